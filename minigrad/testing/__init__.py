"""Gradient checking for minigrad ops and layers, yours included.

``gradcheck`` compares backpropagation with central differences.  The hypothesis
strategies in ``minigrad.testing.strategies`` generate the shapes, arrays and sequences
to run it on, and ``minigrad.testing.profiles`` registers a reproducible CI profile.
"""

from minigrad.testing.gradcheck import check_backward, gradcheck, numerical_grad

__all__ = ["check_backward", "gradcheck", "numerical_grad"]
