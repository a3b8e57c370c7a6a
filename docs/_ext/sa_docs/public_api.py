"""The public names of a package, the module that defines each, and its section of the API page.

Nothing here depends on Sphinx, so the tests can run it on a small package of their own;
:mod:`sa_docs.api_pages` turns its answer into pages.

Which names are public
    Those in the package's ``__all__`` (documented as ``package.NAME``), then those in the
    ``__all__`` of a public module or subpackage at any depth that the package does not
    re-export (documented as ``package.MODULE.NAME``, shallowest module first). Each object
    is documented once, under the first of those names. A module (or a subpackage) is public
    when no part of its dotted name starts with ``_``. Nothing is listed by hand: a new public
    name appears on the API page with no edit anywhere.

Which module defines a name
    A class's or function's ``__module__``; a constant has none, so its module is the one whose
    source assigns it at top level. A re-export (``from .tokens import PAD``) is not a definition.

How names are grouped
    The sections are the keys of a ``titles`` mapping, in its order. A key names a module or a
    subpackage by its dotted path below the package (``"tokens"``, ``"text.tokens"``) or by the
    final part(s) of that path (``"tokens"`` also names ``text.tokens``), so titles keep
    working when modules move into subpackages under the same file names. A name goes to the
    section of the deepest public module that a key names: its defining module (a private one
    counts as its parent package), else the nearest package above it. A name that no key
    claims goes to the section of its top-level module or subpackage, titled by the first
    sentence of that module's docstring and placed just before the last titled section (the
    figures, which need matplotlib).
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import ModuleType

__all__ = ["PublicName", "Section", "defining_module", "public_names", "sections", "submodules"]


@dataclass(frozen=True)
class PublicName:
    """One documented name: ``full_name`` (``package.NAME`` or ``package.MODULE.NAME``), the
    object it is bound to, and the full name of the module whose source defines it."""

    full_name: str
    obj: object
    module: str


@dataclass
class Section:
    """One section of the API page: the module (or subpackage) it stands for, by full name; the
    key of ``titles`` that named it (``None`` for an untitled one); its names, in order."""

    module: str
    key: str | None
    names: list[PublicName] = field(default_factory=list)


def _import_failed(name: str) -> None:
    """Re-raise: ``pkgutil.walk_packages`` would otherwise skip a subpackage that fails to
    import, and its names would vanish from the API page without a word."""
    raise ImportError(f"{name} could not be imported, so its public names cannot be listed")


def submodules(package: ModuleType) -> dict[str, ModuleType]:
    """Every module and subpackage below ``package`` at any depth, private ones included,
    imported, by dotted path relative to the package (``"tokens"``, ``"plotting.bars"``)."""
    prefix = package.__name__ + "."
    return {
        info.name.removeprefix(prefix): importlib.import_module(info.name)
        for info in pkgutil.walk_packages(package.__path__, prefix, onerror=_import_failed)
    }


def _is_public(path: str) -> bool:
    return not any(part.startswith("_") for part in path.split("."))


def _assigns(module: ModuleType, name: str) -> bool:
    """Whether ``module``'s source binds ``name`` by a top-level assignment (not an import)."""
    try:
        tree = ast.parse(inspect.getsource(module))
    except (OSError, TypeError):  # no source to read
        return False
    for node in tree.body:
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, ast.AnnAssign):
            targets = [node.target]
        else:
            continue
        for target in targets:
            if any(isinstance(n, ast.Name) and n.id == name for n in ast.walk(target)):
                return True
    return False


def defining_module(
    package: ModuleType, name: str, obj: object, modules: Mapping[str, ModuleType]
) -> str:
    """The full name of the module that defines ``obj``, bound to ``name`` (see the module
    docstring); ``ValueError`` if that is not a module of ``package``."""
    if inspect.isclass(obj) or inspect.isroutine(obj):
        module = str(obj.__module__)
        if module.startswith(package.__name__ + "."):
            return module
    else:
        for mod in modules.values():
            if vars(mod).get(name, None) is obj and _assigns(mod, name):
                return mod.__name__
    raise ValueError(
        f"{package.__name__}.{name}: no module of {package.__name__} defines it, so it has no "
        "section on the API page"
    )


def public_names(package: ModuleType, modules: Mapping[str, ModuleType]) -> list[PublicName]:
    """The documented names of ``package``, in order: its ``__all__``, then every public
    module's ``__all__`` (shallowest module first), each object once. ``modules`` is
    :func:`submodules` of the package. A module listed in an ``__all__`` is documented through
    its own names, not as one entry."""
    found: list[PublicName] = []
    seen: set[tuple[str, int]] = set()

    def add(module: ModuleType, name: str) -> None:
        obj = getattr(module, name)
        if inspect.ismodule(obj) or (name, id(obj)) in seen:
            return
        seen.add((name, id(obj)))
        where = defining_module(package, name, obj, modules)
        found.append(PublicName(f"{module.__name__}.{name}", obj, where))

    for name in package.__all__:
        add(package, name)
    public = sorted((p for p in modules if _is_public(p)), key=lambda p: (p.count("."), p))
    for path in public:
        for name in getattr(modules[path], "__all__", []):
            add(modules[path], name)
    return found


def _names_module(key: str, path: str) -> bool:
    """Whether a key of ``titles`` names the module at ``path``: the whole path or its end."""
    return path == key or path.endswith("." + key)


def _section_of(path: str, titles: Mapping[str, str]) -> tuple[str, str | None]:
    """The section (a module path relative to the package) and the key of ``titles`` for a name
    defined in the module at ``path``."""
    parts = path.split(".")
    private = [i for i, part in enumerate(parts) if part.startswith("_")]
    parts = parts[: private[0]] if private else parts
    if not parts:
        raise ValueError(f"{path}: a private module directly below the package has no section")
    for depth in range(len(parts), 0, -1):
        candidate = ".".join(parts[:depth])
        keys = [key for key in titles if _names_module(key, candidate)]
        if keys:
            return candidate, max(keys, key=len)
    return parts[0], None


def sections(package: ModuleType, titles: Mapping[str, str]) -> list[Section]:
    """The sections of the API page of ``package``, in order, each with its names (see the
    module docstring for how names are grouped). ``titles`` maps keys to section titles."""
    modules = submodules(package)
    prefix = package.__name__ + "."
    by_path: dict[str, Section] = {}
    for entry in public_names(package, modules):
        path, key = _section_of(entry.module.removeprefix(prefix), titles)
        by_path.setdefault(path, Section(prefix + path, key)).names.append(entry)
    known = list(titles)

    def rank(item: tuple[str, Section]) -> tuple[float, str]:
        path, section = item
        # Titled sections in the order of ``titles``; untitled ones just before the last.
        return (known.index(section.key) if section.key else len(known) - 1.5, path)

    return [section for _, section in sorted(by_path.items(), key=rank)]
