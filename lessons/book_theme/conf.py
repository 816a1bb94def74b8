"""Sphinx's configuration of the lessons' book (``lessons/pages.py`` runs Sphinx with it).

The pages are built from notebooks that ``python -m lessons`` has already executed: myst-nb
renders them as they are (no execution here), sphinx-book-theme lays them out, and MathJax 3
is served from the book's own ``_static/mathjax`` folder, so that nothing comes from a network.
"""

from myst_nb.sphinx_ import HideCodeCellNode, depart_HideCellInput
from sphinx.util.fileutil import copy_asset

project = "minigrad: recurrent networks from first principles"
author = "the minigrad authors"
copyright = "the minigrad authors"
language = "en"

extensions = ["myst_nb"]
exclude_patterns = ["_build", "**.ipynb_checkpoints"]
# a second build in one process (the tests) finds Sphinx's node classes registered already
suppress_warnings = ["mystnb.unknown_mime_type", "app.add_node", "app.add_role", "app.add_directive"]

# the notebooks come executed: render what they hold, stderr included only if a lesson warns
nb_execution_mode = "off"
nb_output_stderr = "show"
nb_merge_streams = True
nb_code_prompt_show = "Show code"
nb_code_prompt_hide = "Hide code"
myst_enable_extensions = ["dollarmath", "amsmath", "html_image"]
myst_heading_anchors = 3

# MathJax 3 from the book itself (the files are copied in by setup() below)
mathjax_path = "mathjax/tex-chtml.js"

html_theme = "sphinx_book_theme"
html_title = "minigrad: the lessons"
html_static_path = ["static"]
html_css_files = ["book.css"]
html_copy_source = False
html_use_index = False  # the book defines no index entries: its general index page would be empty
html_show_sourcelink = False
html_last_updated_fmt = None
html_theme_options = {
    "home_page_in_toc": True,
    "use_download_button": False,  # each page links its executed notebook instead
    "use_fullscreen_button": False,
    "show_toc_level": 2,
    "navigation_with_keys": False,
    "footer_content_items": [],
}


def visit_open_hidden_code(self, node: HideCodeCellNode) -> None:
    """A lesson's code starts shown and can be collapsed (myst-nb's fold starts closed)."""
    classes = " ".join(node["classes"])
    self.body.append(
        f'<details class="admonition hide {classes}" open>\n<summary aria-label="Hide or show the code">\n'
    )
    self.body.append(f'<p class="collapsed admonition-title">{self.encode(node["prompt_show"])}</p>\n')
    self.body.append(
        f'<p class="expanded admonition-title">{self.encode(node["prompt_hide"])}</p>\n</summary>\n'
    )


def copy_mathjax(app, error) -> None:
    """Copy the parts of MathJax 3 that TeX input and HTML output use into ``_static/mathjax``."""
    if error is not None:
        return
    from lessons.pages import mathjax_folder

    source = mathjax_folder()
    target = app.outdir / "_static" / "mathjax"
    for part in ("tex-chtml.js", "output/chtml/fonts", "input/tex/extensions", "a11y", "ui"):
        destination = target / part
        if (source / part).is_dir():
            copy_asset(source / part, destination)
        else:
            destination.parent.mkdir(parents=True, exist_ok=True)
            destination.write_bytes((source / part).read_bytes())


def setup(app) -> None:
    app.add_node(HideCodeCellNode, override=True, html=(visit_open_hidden_code, depart_HideCellInput))
    app.connect("build-finished", copy_mathjax)
