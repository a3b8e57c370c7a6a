"""Checks on the project as a whole: README examples, no asserts used for validation, packaging."""

from __future__ import annotations

import ast
import doctest
from pathlib import Path

import simple_attention

ROOT = Path(__file__).resolve().parents[1]
SOURCE = Path(simple_attention.__file__).resolve().parent


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
