"""Checks on the project as a whole: README examples, no asserts used for validation, packaging."""

from __future__ import annotations

import ast
import doctest
import importlib.util
import sys
from pathlib import Path

import pytest

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
