"""The gallery's figures as SVG, like the tutorial pages' (sharp at any zoom, text searchable).

sphinx-gallery's own matplotlib scraper writes PNG unless it is called with ``format="svg"``;
:data:`svg_scraper` is that call. It is an object with a fixed ``repr`` rather than a lambda,
because sphinx-gallery compares its configuration between builds by ``repr``: a lambda's repr
holds a memory address, which would make every build look reconfigured and rerun every example.
"""

from __future__ import annotations

from typing import Any

from sphinx_gallery.scrapers import matplotlib_scraper


class SVGScraper:
    """sphinx-gallery's matplotlib scraper, saving every figure as SVG."""

    def __repr__(self) -> str:
        return "sa_docs.gallery.SVGScraper()"

    def __call__(self, block: Any, block_vars: Any, gallery_conf: Any) -> str:
        return matplotlib_scraper(block, block_vars, gallery_conf, format="svg")


svg_scraper = SVGScraper()
