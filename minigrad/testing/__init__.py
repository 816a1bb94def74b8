"""Gradient checking for minigrad ops and layers, yours included.

``gradcheck`` compares backpropagation with central differences, ``gradcheck_module`` does
it for a layer's own weights, and ``check_backward`` for a backward written by hand in
numpy.  The hypothesis strategies in ``minigrad.testing.strategies`` generate the shapes,
arrays, sequences, masks and labels to run them on, and ``minigrad.testing.profiles``
registers a reproducible CI profile.
"""

from minigrad.testing.gradcheck import check_backward, gradcheck, numerical_grad
from minigrad.testing.modules import gradcheck_module
from minigrad.testing.report import Tolerance

__all__ = ["Tolerance", "check_backward", "gradcheck", "gradcheck_module", "numerical_grad"]
