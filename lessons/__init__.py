"""Runnable lessons, one per source article, built on minigrad and layers.

Run them all with ``python -m lessons``; ``python -m lessons list`` names them and
``python -m lessons run N`` runs one.  Each lesson is a percent-format script (``# %%``
cells) that also opens as a notebook in Jupyter or VS Code.
"""

from pathlib import Path

DATA = Path(__file__).resolve().parent / "data"  # the lessons' small data sets
