"""Sphinx configuration for the simple-attention site: settings only.

The site must build and render with no network at all: MathJax is served from the site itself,
cross-references to Python, NumPy and Matplotlib read small inventories written at build time,
and the gallery links only to this site's own API pages. The machinery behind some of these
settings (API pages, local inventories, one cross-reference hook) is the site's own extension,
``_ext/sa_docs``; it runs from Sphinx events, not when this file is read. Build the site with
``nox -s docs``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import simple_attention

# The site's own extension, sa_docs, lives in _ext/.
sys.path.insert(0, str(Path(__file__).resolve().parent / "_ext"))
from sa_docs.gallery import svg_scraper  # after the path above: sa_docs is found there

project = "simple-attention"
author = "The simple-attention developers"
copyright = "the simple-attention developers"
release = version = simple_attention.__version__

extensions = [
    "myst_nb",
    "numpydoc",
    "sphinx.ext.autodoc",
    "sphinx.ext.intersphinx",
    "sphinx.ext.mathjax",
    "sphinx_gallery.gen_gallery",
    # Ships MathJax 3 and copies it into the built site (see "Maths" below). The hyphens are
    # right: that is the name of the module the package installs.
    "sphinx-mathjax-offline",
    # The site's own: API pages, local inventories, links to listed attributes (see _ext/).
    "sa_docs",
]

exclude_patterns = [
    "_build",
    "check_site.py",
    # Written with the API pages (api_pages_dir below) and included into api.md: not a page.
    "api/generated/sections.md",
    # sphinx-gallery writes a notebook next to every example; myst-nb would read each one as a
    # second copy of the same page. ("**/" needs at least one folder, hence both patterns.)
    "auto_examples/*.ipynb",
    "auto_examples/**/*.ipynb",
    "jupyter_execute",
    # Left behind by builds that still wrote computation times (see sphinx_gallery_conf).
    "sg_execution_times.rst",
    "auto_examples/sg_execution_times.rst",
]

# -W turns every warning into an error and -n (nitpicky) every unresolved cross-reference.
# Nothing needs ignoring: numpydoc links only the type words it knows (see below), the small
# inventories below cover the outside names, and sa_docs links instance attributes that a class
# lists in its Attributes section (which numpydoc renders without link targets).
nitpicky = True
nitpick_ignore: list[tuple[str, str]] = []

# -- MyST and notebook execution ----------------------------------------------------------------

myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist"]
myst_heading_anchors = 3

# Tutorial pages are notebooks, executed at build time. "cache" reruns only pages that changed;
# a fresh clone (CI) runs them all. A failing cell fails the build.
nb_execution_mode = "cache"
nb_execution_raise_on_error = True
nb_execution_show_tb = True
nb_execution_timeout = 60  # seconds per cell

# Each of these pages (patterns of page names) can be downloaded as a notebook that runs with the
# library and a Jupyter kernel alone: its download menu gains ".ipynb" (sa_docs.notebooks).
notebook_downloads = ["tutorial/*"]

# -- The example gallery ------------------------------------------------------------------------

sphinx_gallery_conf = {
    "examples_dirs": ["../examples"],
    "gallery_dirs": ["auto_examples"],
    "filename_pattern": r"/plot_",
    # One folder per topic, in the order of the pipeline; inside a folder, by file name.
    "subsection_order": [
        "../examples/tokens_and_vectors",
        "../examples/attention",
        "../examples/masks_and_decoding",
        "../examples/speed_and_memory",
        "../examples/training_and_text",
    ],
    "within_subsection_order": "FileNameSortKey",
    # Every API page lists the examples that use it ("minigallery" in the stubs below).
    "doc_module": ("simple_attention",),
    "backreferences_dir": "gen_modules/backreferences",
    # None = link to this site's own API pages. A URL here would make the build download that
    # site's search index, which fails offline.
    "reference_url": {"simple_attention": None},
    "remove_config_comments": True,
    # SVG like the tutorial pages (sa_docs/gallery.py says why it is an object).
    "image_scrapers": (svg_scraper,),
    "download_all_examples": True,
    "show_memory": False,
    # A failing example fails the build.
    "abort_on_example_error": True,
    # The computation-times pages load jQuery and DataTables from CDNs.
    "write_computation_times": False,
}

# -- Maths --------------------------------------------------------------------------------------

# sphinx.ext.mathjax would load MathJax from a CDN. The sphinx-mathjax-offline extension copies
# its own MathJax 3 into _static/mathjax/ after every successful build and points mathjax_path at
# it, so formulas typeset with no network.

# MathJax on every page, not only on pages with formulas of their own: the navigation shows
# every page's title, and a title may hold a formula ("Why divide by sqrt(d_k)?"). Sphinx takes
# this only from an extension's setup(); sa_docs reads it from here.
html_assets_policy = "always"

# -- API docstrings: numpydoc -------------------------------------------------------------------

numpydoc_show_class_members = False  # autodoc lists the members on each API page
numpydoc_xref_param_type = True
# Type descriptions carry shapes such as "array_like, shape (..., L, d_k)". Link only the words
# listed here (plus numpydoc's own list: int, str, bool, ndarray, array_like, ...) and leave the
# rest, such as "shape", "L" or "d_k", as plain text.
numpydoc_xref_ignore = "all"
numpydoc_xref_aliases = {
    "mapping": ":term:`python:mapping`",
    "numpy.random.Generator": ":class:`numpy.random.Generator`",
    "Generator": ":class:`numpy.random.Generator`",
    "matplotlib.axes.Axes": ":class:`matplotlib.axes.Axes`",
    "Axes": ":class:`matplotlib.axes.Axes`",
    "matplotlib.figure.Figure": ":class:`matplotlib.figure.Figure`",
    "Figure": ":class:`matplotlib.figure.Figure`",
}
autodoc_typehints = "none"  # the numpydoc sections already give every type, with shapes


# -- Cross-references to Python, NumPy and Matplotlib, with no download -------------------------

# intersphinx normally downloads each project's objects.inv. Instead, sa_docs writes a tiny
# inventory for the few names our docstrings and pages refer to (into offline_inventories_dir)
# and adds it to intersphinx_mapping; the URL is then only the base of the links.
# To link one more name, add a line: name, domain:role, and its page on that site (a final "$"
# stands for the name itself, as in objects.inv).
offline_inventories = {
    "python": (
        "https://docs.python.org/3/",
        """
        None                  py:data       library/constants.html#$
        True                  py:data       library/constants.html#$
        False                 py:data       library/constants.html#$
        bool                  py:class      library/functions.html#$
        int                   py:class      library/functions.html#$
        float                 py:class      library/functions.html#$
        str                   py:class      library/stdtypes.html#$
        list                  py:class      library/stdtypes.html#$
        tuple                 py:class      library/stdtypes.html#$
        dict                  py:class      library/stdtypes.html#$
        object                py:class      library/functions.html#$
        callable              py:function   library/functions.html#$
        ValueError            py:exception  library/exceptions.html#$
        TypeError             py:exception  library/exceptions.html#$
        IndexError            py:exception  library/exceptions.html#$
        KeyError              py:exception  library/exceptions.html#$
        ImportError           py:exception  library/exceptions.html#$
        bltin-boolean-values  std:label     library/stdtypes.html#$
        iterable              std:term      glossary.html#term-iterable
        sequence              std:term      glossary.html#term-sequence
        mapping               std:term      glossary.html#term-mapping
        generator             std:term      glossary.html#term-generator
        """,
    ),
    "numpy": (
        "https://numpy.org/doc/stable/",
        """
        array_like                std:term     glossary.html#term-array_like
        arrays.scalars            std:label    reference/arrays.scalars.html#arrays-scalars
        numpy.ndarray             py:class     reference/generated/numpy.ndarray.html#$
        numpy.dtype               py:class     reference/generated/numpy.dtype.html#$
        numpy.float64             py:class     reference/arrays.scalars.html#$
        numpy.float32             py:class     reference/arrays.scalars.html#$
        numpy.inf                 py:data      reference/constants.html#$
        numpy.nan                 py:data      reference/constants.html#$
        numpy.random.Generator    py:class     reference/random/generator.html#$
        numpy.random.default_rng  py:function  reference/random/generator.html#$
        numpy.random.RandomState  py:class     reference/random/legacy.html#$
        numpy.exp                 py:function  reference/generated/numpy.exp.html#$
        numpy.max                 py:function  reference/generated/numpy.max.html#$
        numpy.sum                 py:function  reference/generated/numpy.sum.html#$
        numpy.sqrt                py:function  reference/generated/numpy.sqrt.html#$
        numpy.matmul              py:function  reference/generated/numpy.matmul.html#$
        numpy.einsum              py:function  reference/generated/numpy.einsum.html#$
        numpy.allclose            py:function  reference/generated/numpy.allclose.html#$
        numpy.tril                py:function  reference/generated/numpy.tril.html#$
        numpy.triu                py:function  reference/generated/numpy.triu.html#$
        """,
    ),
    "matplotlib": (
        "https://matplotlib.org/stable/",
        """
        matplotlib.axes.Axes      py:class  api/_as_gen/matplotlib.axes.Axes.html#$
        matplotlib.figure.Figure  py:class  api/_as_gen/matplotlib.figure.Figure.html#$
        """,
    ),
}
offline_inventories_dir = "_build/inventories"  # below this folder; git ignores _build
intersphinx_timeout = 1  # never waited on: every inventory above is a local file

# -- API reference ------------------------------------------------------------------------------

# api.md includes sections.md, which sa_docs writes into api_pages_dir from the package itself,
# together with one page per public name: every name in ``simple_attention.__all__`` (documented
# as ``simple_attention.NAME``) and in the ``__all__`` of a public submodule that the package does
# not re-export (``simple_attention.MODULE.NAME``, e.g. ``plotting``). A new public name appears
# with no edit here.
api_pages_package = "simple_attention"
api_pages_dir = "api/generated"
# The sections, in the order a sentence travels through the pipeline: a name goes to the section
# of the module that defines it (or of its subpackage, as for plotting). A key is a module's
# dotted path below the package, or its end: "tokens" also names a text.tokens. A module with no
# title here gets a section titled by its docstring, just before the figures; a title that names
# no module fails the build.
api_pages_sections = {
    "text.tokens": "Text to token ids",
    "text.padding": "Batches of different lengths",
    "text.embeddings": "Token ids to vectors",
    "text.positions": "Positions",
    "text.chars": "Characters to ids",
    "attention.softmax": "Scores to weights: softmax",
    "attention.loops": "Attention for one query, with loops",
    "attention.scaled": "Attention for all queries, with matrices",
    "attention.chunked": "Memory-efficient attention",
    "attention.parallel": "Using every core",
    "attention.masks": "Masks",
    "layers.base": "The layer interface",
    "layers.attention": "Trainable weights",
    "layers.multihead": "Multi-head attention",
    "attention.kv_cache": "Generating with a key-value cache",
    "layers.dropout": "Dropout",
    "layers.linear": "The output head",
    "layers.model": "A tiny model",
    "layers.norm": "Layer normalisation",
    "layers.feedforward": "The feed-forward network",
    "layers.block": "The transformer block",
    "layers.gpt": "A tiny language model",
    "training.losses": "Loss",
    "training.optim": "Optimizers",
    "training.loop": "Training",
    "training.tasks": "A toy task: reversing a sequence",
    "training.corpus": "A real corpus, offline",
    "training.baselines": "Baselines: unigram and bigram models",
    "training.checkpoint": "Saving and loading weights",
    "generation.sampling": "Generating text",
    "training.gradcheck": "Checking gradients",
    "plotting": "Figures (needs matplotlib)",
}

# -- HTML output --------------------------------------------------------------------------------

html_theme = "sphinx_book_theme"
html_title = "simple-attention"
html_static_path = ["_static"]
html_css_files = ["custom.css", "explorer.css"]
html_js_files = ["explorer.js"]
html_favicon = "_static/favicon.svg"
html_last_updated_fmt = None
# Without a default, a reader's first visit logs "invalid theme mode"; "auto" follows the
# reader's light or dark system setting.
html_context = {"default_mode": "auto"}
html_theme_options = {
    "home_page_in_toc": False,
    "show_toc_level": 2,
    "use_download_button": True,
    "use_fullscreen_button": False,
    "use_repository_button": False,
    "use_issues_button": False,
    "use_edit_page_button": False,
    # No Binder, Colab, JupyterHub or Thebe buttons: the site works offline and stands alone.
    "launch_buttons": {},
    "navigation_with_keys": False,
}
