"""The checks of each assignment, one module per assignment, each with a ``checklist``.

The teacher's side: these modules hold the references, the hidden checks and their seeds,
and stay with the teacher (they are not in the package a student installs, and the
autograder bundle keeps them where student code cannot read them).  Hypothesis draws the
cases here, in the grader; every output is compared with a reference written here in plain
numpy, gradients with the true gradient.
"""
