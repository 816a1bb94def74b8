"""Helpers the tests share."""


def bind(module, tensors):
    """Make ``tensors`` the module's parameters, in ``named_parameters`` order, so that a
    gradient check through the module reaches them."""
    for (name, _), tensor in zip(list(module.named_parameters()), tensors, strict=True):
        *path, attribute = name.split(".")
        owner = module
        for part in path:
            owner = getattr(owner, part)
        setattr(owner, attribute, tensor)
