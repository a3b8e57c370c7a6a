"""API pages: one page per public name of the package, and the sections of the API page.

At ``builder-inited``, before Sphinx reads the sources, this writes into ``api_pages_dir``
(below the source folder):

* ``sections.md``, which ``api.md`` includes: per section a title, the first sentence of the
  module's docstring, a table of its names with the first line of each docstring, and a hidden
  toctree of their pages;
* ``PACKAGE.NAME.rst`` for every public name: autodoc's page for it and the gallery examples
  that use it (``minigallery``).

Which names are public and how they are grouped is :mod:`sa_docs.public_api`'s answer, from the
package itself (``__all__`` and ``__module__``). ``api_pages_sections`` (in conf.py) gives the
sections their titles and order. A file is rewritten only when its text changes, so that Sphinx
rereads only what changed, and files of names that are gone are deleted.
"""

from __future__ import annotations

import importlib
import inspect
import re
from pathlib import Path

from sphinx.application import Sphinx
from sphinx.pycode import ModuleAnalyzer
from sphinx.util import logging

from . import public_api

logger = logging.getLogger(__name__)

# A cross-reference role, ``:func:`name```, ``:class:`~a.b```, ``:attr:`text <target>```.
ROLE = re.compile(r":(?:py:)?[a-z]+:`~?([^`<]*?)(?:\s*<([^`>]*)>)?`")


def first_sentence(text: str | None) -> str:
    """The first line of a docstring, or ``""``."""
    lines = inspect.cleandoc(text or "").splitlines()
    return lines[0].strip() if lines else ""


def plain(text: str) -> str:
    """``text`` with its cross-reference roles turned into code: summaries link by name only."""
    return ROLE.sub(lambda m: f"``{(m.group(1) or m.group(2)).strip()}``", text)


def data_doc(entry: public_api.PublicName) -> str:
    """The ``#:`` comment above a module-level constant, in the module that defines it."""
    short = entry.full_name.rpartition(".")[2]
    docs = ModuleAnalyzer.for_module(entry.module).find_attr_docs()
    return "\n".join(docs.get(("", short), [])).strip()


#: The bases whose members a class page leaves out (see :func:`stub`).
INHERITED_UP_TO = "Layer, ImportError, Protocol, object"


def stub(entry: public_api.PublicName, package: str) -> str:
    """The reST page of one public name."""
    full_name, obj = entry.full_name, entry.obj
    module, _, short = full_name.rpartition(".")
    label = full_name.removeprefix(package + ".")  # the signature shows the full name
    title = (
        f".. rst-class:: api-page\n\n{label}\n{'=' * len(label)}\n\n"
        f".. currentmodule:: {module}\n\n"
    )
    if inspect.isclass(obj):
        # A class shows what it inherits from the library's own classes (SelfAttention the
        # methods of Attention, Adam the step of Optimizer), but not the Layer interface every
        # layer shares, which has a page of its own, nor what Python's classes provide.
        body = (
            f".. autoclass:: {short}\n   :members:\n   :special-members: __call__\n"
            f"   :inherited-members: {INHERITED_UP_TO}\n"
        )
    elif callable(obj):
        body = f".. autofunction:: {short}\n"
    else:
        doc = "\n".join("   " + line for line in data_doc(entry).splitlines())
        body = f".. data:: {short}\n   :value: {obj!r}\n\n{doc}\n"
    gallery = f"\n.. minigallery:: {full_name}\n   :add-heading: Examples using ``{short}``\n"
    return title + body + gallery


def summary(entry: public_api.PublicName) -> str:
    """One line that says what a public name is for."""
    if inspect.isclass(entry.obj) or callable(entry.obj):
        return plain(first_sentence(inspect.getdoc(entry.obj)))
    return plain(first_sentence(data_doc(entry)))


def section_text(
    section: public_api.Section, package: str, titles: dict[str, str], pages: str, declare: bool
) -> str:
    """One section of the API page: title, the module's summary, a table and a hidden toctree.

    ``pages`` is the folder of the pages, as the including document (api.md) sees it;
    ``declare`` says whether to declare the module so that ``:mod:`` can link to it.
    """
    module_doc = importlib.import_module(section.module).__doc__
    title = (titles.get(section.key) if section.key else "") or plain(
        first_sentence(module_doc)
    ).rstrip(".")
    rows = "\n".join(
        f"   * - :py:obj:`{entry.full_name.removeprefix(package + '.')} <{entry.full_name}>`\n"
        f"     - {summary(entry)}"
        for entry in section.names
    )
    toctree = "\n".join(
        f"{entry.full_name.removeprefix(package + '.')} <{pages}/{entry.full_name}>"
        for entry in section.names
    )
    module = f".. module:: {section.module}\n\n" if declare else ""
    # The table is reST, so the docstrings' own markup works in its cells.
    return (
        f"## {title}\n\n```{{eval-rst}}\n{module}.. currentmodule:: {package}\n\n"
        f"{plain(first_sentence(module_doc))}\n\n"
        f".. list-table::\n   :widths: 35 65\n   :class: api-summary\n\n{rows}\n```\n\n"
        f"```{{toctree}}\n:hidden:\n\n{toctree}\n```\n"
    )


def write_if_changed(path: Path, text: str) -> None:
    """Write ``text`` unless ``path`` holds it already (Sphinx rereads what changed)."""
    if not path.exists() or path.read_text() != text:
        path.write_text(text)


def warn_about_titles(sections: list[public_api.Section], titles: dict[str, str]) -> None:
    """Warn (an error under ``-W``) about a title that no section uses, or that two share:
    after a module is renamed or moved, its title would otherwise be lost without a word."""
    used: dict[str, list[str]] = {}
    for section in sections:
        if section.key is not None:
            used.setdefault(section.key, []).append(section.module)
    for key in titles:
        if key not in used:
            logger.warning(
                "api_pages_sections: %r names no module that defines a public name", key
            )
        elif len(used[key]) > 1:
            logger.warning(
                "api_pages_sections: %r names %s; use a longer dotted path",
                key,
                " and ".join(used[key]),
            )


def write_api_pages(app: Sphinx) -> None:
    """Write the API sections (included by api.md) and one stub page per public name."""
    package_name: str = app.config.api_pages_package
    titles: dict[str, str] = app.config.api_pages_sections
    pages: str = app.config.api_pages_dir.strip("/")
    package = importlib.import_module(package_name)
    folder = Path(app.srcdir, pages)
    folder.mkdir(parents=True, exist_ok=True)

    sections = public_api.sections(package, titles)
    warn_about_titles(sections, titles)
    documented = {entry.full_name for section in sections for entry in section.names}
    wanted = {folder / "sections.md"}
    texts = [f"```{{eval-rst}}\n.. module:: {package_name}\n   :no-index:\n```\n"]
    for section in sections:
        for entry in section.names:
            page = folder / f"{entry.full_name}.rst"
            wanted.add(page)
            write_if_changed(page, stub(entry, package_name))
        # A public name may hold the module's own name: ``simple_attention.softmax`` is the
        # function, not the module, and declaring the module would make it ambiguous.
        declare = section.module not in documented
        texts.append(section_text(section, package_name, titles, pages, declare))
    write_if_changed(folder / "sections.md", "\n".join(texts))
    for stale in set(folder.glob("*")) - wanted:
        stale.unlink()


def setup(app: Sphinx) -> None:
    """Declare the settings and write the pages once the builder exists, before reading."""
    app.add_config_value("api_pages_package", "", "env", types=frozenset({str}))
    app.add_config_value("api_pages_dir", "api/generated", "env", types=frozenset({str}))
    app.add_config_value("api_pages_sections", {}, "env", types=frozenset({dict}))
    app.connect("builder-inited", write_api_pages)
