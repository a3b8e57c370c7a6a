"""Checks on the project as a whole: README examples, no asserts used for validation, packaging."""

from __future__ import annotations

import ast
import doctest
import importlib.util
import re
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

import simple_attention

ROOT = Path(__file__).resolve().parents[1]
SOURCE = Path(simple_attention.__file__).resolve().parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def requirements(*groups: str) -> list[str]:
    """The requirement strings of the named dependency groups (not their include-group tables)."""
    return [r for g in groups for r in PYPROJECT["dependency-groups"][g] if isinstance(r, str)]


def floors(texts: list[str]) -> dict[str, set[Version]]:
    """Each package's ``>=`` bounds, over all of ``texts``."""
    found: dict[str, set[Version]] = {}
    for text in texts:
        requirement = Requirement(text)
        bounds = {Version(s.version) for s in requirement.specifier if s.operator == ">="}
        found.setdefault(canonicalize_name(requirement.name), set()).update(bounds)
    return found


def test_readme_examples_run_and_print_what_they_show() -> None:
    flags = doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS
    result = doctest.testfile(str(ROOT / "README.md"), module_relative=False, optionflags=flags)
    assert result.attempted > 5
    assert result.failed == 0


def test_no_assert_statements_in_the_library() -> None:
    # Validation must survive `python -O`, which strips assert statements.
    offenders = [
        f"{path.name}:{node.lineno}"
        for path in sorted(SOURCE.rglob("*.py"))
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Assert)
    ]
    assert offenders == []


def test_public_names_have_docstrings_with_examples() -> None:
    missing = [
        name
        for name in simple_attention.__all__
        if isinstance(getattr(simple_attention, name), type | type(len) | type(lambda: 0))
        and "Examples" not in (getattr(simple_attention, name).__doc__ or "")
    ]
    assert missing == []


def test_package_ships_the_py_typed_marker() -> None:
    # PEP 561: without this file, users' type checkers ignore the package's annotations.
    assert (SOURCE / "py.typed").is_file()


def test_api_page_sections_follow_modules_into_subpackages(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The docs' API-page generator (docs/_ext/sa_docs/public_api.py, no Sphinx needed) must find
    # names and their sections in a package split into subpackages, from __all__ and
    # __module__ alone: the titles of modules keep working under their file names.
    files = {
        "__init__.py": '"""A package."""\n'
        "from .attention import attend, softmax\nfrom .text import PAD, tokenize\n"
        '__all__ = ["PAD", "attend", "softmax", "tokenize"]\n',
        "text/__init__.py": '"""Text."""\nfrom .tokens import PAD, tokenize\n'
        '__all__ = ["PAD", "tokenize"]\n',
        "text/tokens.py": '"""Tokens."""\n__all__ = ["PAD", "split_words", "tokenize"]\n'
        'PAD = "<pad>"\ndef tokenize(): ...\ndef split_words(): ...\n',
        "attention/__init__.py": '"""Attention."""\nfrom ._core import attend, check_qkv\n'
        'from .softmax import softmax\n__all__ = ["attend", "check_qkv", "softmax"]\n',
        "attention/_core.py": '"""Core."""\ndef attend(): ...\ndef check_qkv(): ...\n',
        "attention/softmax.py": '"""Softmax."""\ndef softmax(): ...\n',
        "plotting/__init__.py": '"""Figures."""\nfrom .bars import plot_bars\n'
        '__all__ = ["plot_bars"]\n',
        "plotting/bars.py": '"""Bars."""\n__all__ = ["plot_bars"]\ndef plot_bars(): ...\n',
    }
    for name, text in files.items():
        (tmp_path / "apipkg" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "apipkg" / name).write_text(text)
    monkeypatch.syspath_prepend(str(tmp_path))
    for name in [m for m in sys.modules if m == "apipkg" or m.startswith("apipkg.")]:
        monkeypatch.delitem(sys.modules, name)
    spec = importlib.util.spec_from_file_location(
        "sa_docs_public_api", ROOT / "docs" / "_ext" / "sa_docs" / "public_api.py"
    )
    assert spec is not None
    assert spec.loader is not None
    public_api = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, public_api)
    spec.loader.exec_module(public_api)
    titles = {"tokens": "Text", "softmax": "Softmax", "attention": "Attention", "plots": "?"}

    found = public_api.sections(importlib.import_module("apipkg"), titles)

    assert [(s.module, s.key, [n.full_name for n in s.names]) for s in found] == [
        (
            "apipkg.text.tokens",
            "tokens",
            ["apipkg.PAD", "apipkg.tokenize", "apipkg.text.tokens.split_words"],
        ),
        ("apipkg.attention.softmax", "softmax", ["apipkg.softmax"]),
        ("apipkg.attention", "attention", ["apipkg.attend", "apipkg.attention.check_qkv"]),
        ("apipkg.plotting", None, ["apipkg.plotting.plot_bars"]),
    ]
    assert found[0].names[0].module == "apipkg.text.tokens"  # a constant: where it is assigned


def test_what_the_lowest_versions_session_pins_has_one_floor_each() -> None:
    # nox -s tests_lowest turns each `>=X` of these into `==X`: a requirement with no floor
    # would float to its newest release, and one package with two floors cannot be pinned.
    pinned = [
        *PYPROJECT["project"]["dependencies"],
        *PYPROJECT["project"]["optional-dependencies"]["plot"],
        *requirements("test"),
    ]
    for text in pinned:
        assert len([s for s in Requirement(text).specifier if s.operator == ">="]) == 1, text
    everywhere = [
        *pinned,
        *(r for extra in PYPROJECT["project"]["optional-dependencies"].values() for r in extra),
        *requirements(*PYPROJECT["dependency-groups"]),
    ]
    assert {name: f for name, f in floors(everywhere).items() if len(f) > 1} == {}
    minversion = PYPROJECT["tool"]["pytest"]["ini_options"]["minversion"]
    assert floors(pinned)["pytest"] == {Version(minversion)}


def test_scipy_doctest_floor_runs_the_unit_tests_too() -> None:
    # scipy-doctest 1.x, given --doctest-modules, skips every path containing "tests": the whole
    # unit-test suite would silently not run on the floor.
    assert min(floors(requirements("test"))["scipy-doctest"]) >= Version("2.0")


def test_pre_commit_hooks_use_versions_the_lint_group_allows() -> None:
    config = (ROOT / ".pre-commit-config.yaml").read_text(encoding="utf-8")
    pins = re.findall(r'"(ruff|mypy)==([^"]+)"', config)
    assert {name for name, _ in pins} == {"ruff", "mypy"}
    lint = {canonicalize_name(Requirement(r).name): Requirement(r) for r in requirements("lint")}
    for name, version in pins:
        assert lint[name].specifier.contains(version), (name, version, str(lint[name]))


def test_one_minimum_nox_for_the_noxfile_and_ci() -> None:
    noxfile = (ROOT / "noxfile.py").read_text(encoding="utf-8")
    needs_version = re.search(r'^nox\.needs_version = "(.+)"$', noxfile, re.MULTILINE)
    script_block = re.search(r'^# dependencies = \["nox(.+)"\]$', noxfile, re.MULTILINE)
    ci = re.search(r'pip install --quiet "nox(.+)"', (ROOT / ".ci" / "run").read_text())
    assert needs_version is not None
    assert script_block is not None
    assert ci is not None
    assert needs_version[1] == script_block[1] == ci[1]
