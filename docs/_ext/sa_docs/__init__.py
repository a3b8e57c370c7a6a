"""The site's own Sphinx extension: what conf.py's settings need to run.

* :mod:`sa_docs.api_pages` writes the API pages from the package itself (``api_pages_*``),
  grouped as :mod:`sa_docs.public_api` says;
* :mod:`sa_docs.inventories` writes the small local intersphinx inventories
  (``offline_inventories``), so that cross-references to Python, NumPy and Matplotlib need no
  download;
* :mod:`sa_docs.attributes` links references to the instance attributes a class lists;
* :mod:`sa_docs.notebooks` offers every tutorial page as a notebook that runs anywhere (the
  ``.ipynb`` of its download menu, for the pages that ``notebook_downloads`` names);
* :mod:`sa_docs.gallery` holds the gallery's SVG image scraper (``sphinx_gallery_conf``);
* ``html_assets_policy`` applies :meth:`sphinx.application.Sphinx.set_html_assets_policy`, which
  Sphinx offers only to ``setup()``, as a setting.

Each piece is set up from :func:`setup` and runs from a Sphinx event, never at import.
"""

from __future__ import annotations

from typing import Any

from sphinx.application import Sphinx
from sphinx.config import Config

from . import api_pages, attributes, inventories, notebooks


def apply_assets_policy(app: Sphinx, config: Config) -> None:
    """Load every page's scripts and styles (MathJax's included) on every page, or per page."""
    app.set_html_assets_policy(config.html_assets_policy)


def setup(app: Sphinx) -> dict[str, Any]:
    """Set up every piece (see the module docstring)."""
    api_pages.setup(app)
    inventories.setup(app)
    attributes.setup(app)
    notebooks.setup(app)
    app.add_config_value("html_assets_policy", "per_page", "html", types=frozenset({str}))
    app.connect("config-inited", apply_assets_policy)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
