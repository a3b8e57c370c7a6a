"""docs/conventions.md: every rule on the page names a test, and every test it names exists.

A rule table is a Markdown table with a column headed "test". Each of its rows must cite at least
one pytest node id in that column, written as code: ``tests/test_x.py::test_name``,
``tests/test_x.py::TestClass::test_name`` or a parametrised ``tests/test_x.py::test_name[case]``.
A cited id must name a test that pytest would collect: the file is parsed with ``ast`` (not
imported) and the class and function looked up by name.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from tolerances import TOLERANCES

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "conventions.md"

#: The topics of the page: each must have a rule table under a heading that starts with it.
TOPICS = [
    "Masks",
    "Empty inputs",
    "Bad values",
    "Dtypes",
    "Flags",
    "Layers",
    "Training",
    "Text",
]

TEST_ID = re.compile(r"`(?P<path>tests/[\w/.-]+\.py)::(?P<names>[\w:]+)(?P<params>\[[^\]`]*\])?`")


@dataclass
class Table:
    heading: str  # the nearest heading above the table
    line: int  # 1-based line number of the header row
    header: list[str]
    rows: list[tuple[int, list[str]]]  # (line number, cells)


def split_row(line: str) -> list[str]:
    """The cells of a Markdown table row; ``\\|`` is a pipe inside a cell, not a separator."""
    body = line.strip().removeprefix("|")
    if body.endswith("|") and not body.endswith("\\|"):
        body = body[:-1]
    return [cell.strip().replace("\\|", "|") for cell in re.split(r"(?<!\\)\|", body)]


def parse_tables(text: str) -> list[Table]:
    """Every pipe table of a Markdown text, with the heading it sits under."""
    tables: list[Table] = []
    heading = ""
    lines = text.splitlines()
    i = 0
    in_fence = False
    while i < len(lines):
        line = lines[i]
        if line.lstrip().startswith(("```", ":::")):
            in_fence = not in_fence
        elif not in_fence and line.startswith("#"):
            heading = line.lstrip("#").strip()
        elif (
            not in_fence
            and line.lstrip().startswith("|")
            and i + 1 < len(lines)
            and re.fullmatch(r"\s*\|?(\s*:?-+:?\s*\|)+\s*(:?-+:?\s*)?", lines[i + 1])
        ):
            table = Table(heading, i + 1, [c.lower() for c in split_row(line)], [])
            i += 2
            while i < len(lines) and lines[i].lstrip().startswith("|"):
                table.rows.append((i + 1, split_row(lines[i])))
                i += 1
            tables.append(table)
            continue
        i += 1
    return tables


def rule_column(table: Table) -> int | None:
    """The index of the table's "test" column, or None if it is not a rule table."""
    for index, name in enumerate(table.header):
        if name in ("test", "tests"):
            return index
    return None


def find_test(root: Path, path: str, names: str) -> str | None:
    """None if ``path::names`` is a test pytest would collect, else why it is not."""
    file = root / path
    if not file.is_file():
        return f"{path} does not exist"
    parts = names.split("::")
    if not parts[-1].startswith("test"):
        return f"{parts[-1]} is not a test function (its name must start with 'test')"
    body: list[ast.stmt] = ast.parse(file.read_text(), filename=str(file)).body
    for depth, part in enumerate(parts):
        last = depth == len(parts) - 1
        kinds: tuple[type, ...] = (
            (ast.FunctionDef, ast.AsyncFunctionDef) if last else (ast.ClassDef,)
        )
        found = [node for node in body if isinstance(node, kinds) and node.name == part]
        if not found:
            where = "::".join([path, *parts[:depth]])
            return f"{where} has no {'function' if last else 'class'} {part}"
        node = found[-1]  # a later definition replaces an earlier one
        if not last:
            if not part.startswith("Test"):
                return f"{part} is not a test class (its name must start with 'Test')"
            body = node.body  # type: ignore[attr-defined]
    return None


def cited_ids(cell: str) -> list[tuple[str, str]]:
    """The ``(path, names)`` of every test id written in a cell, ``[...]`` left off."""
    return [(m["path"], m["names"]) for m in TEST_ID.finditer(cell)]


def problems(text: str, root: Path) -> list[str]:
    """Every rule row without a test id, and every cited id that names no test."""
    found: list[str] = []
    for table in parse_tables(text):
        column = rule_column(table)
        if column is None:
            continue
        for line, cells in table.rows:
            cell = cells[column] if column < len(cells) else ""
            if not cited_ids(cell):
                found.append(f"line {line} ({table.heading}): no test id in {cells[0]!r}")
    for number, line in enumerate(text.splitlines(), start=1):
        for path, names in cited_ids(line):
            reason = find_test(root, path, names)
            if reason is not None:
                found.append(f"line {number}: {reason}")
    return found


# --- the page itself ---------------------------------------------------------------------------


def test_every_rule_of_the_page_cites_an_existing_test() -> None:
    assert problems(PAGE.read_text(), ROOT) == []


def test_every_topic_has_a_rule_table() -> None:
    tables = [t for t in parse_tables(PAGE.read_text()) if rule_column(t) is not None]
    for topic in TOPICS:
        rows = [row for t in tables if t.heading.startswith(topic) for row in t.rows]
        assert rows, f"no rule table under a heading starting with {topic!r}"


def test_the_tolerances_table_matches_the_tests() -> None:
    (table,) = [t for t in parse_tables(PAGE.read_text()) if t.header[0] == "dtype"]
    on_page = {
        np.dtype(cells[0].strip("`")).type: (float(cells[1]), float(cells[2]))
        for _, cells in table.rows
    }
    assert on_page == TOLERANCES


def test_the_page_cites_nothing_outside_the_repository() -> None:
    text = PAGE.read_text()
    assert "../" not in text
    assert "behaviour" + ".md" not in text
    # An absolute file path (a folder of whoever built it) in prose or code, not a URL.
    absolute = re.findall(r"(?<![\w:/.])/[a-z]+/[\w.-]+", text)
    assert absolute == []


def test_no_file_of_the_repository_cites_the_old_contract() -> None:
    # The rules used to live in a file outside the repository; this page replaces it.
    old = "behaviour" + ".md"
    files = [ROOT / "README.md", *ROOT.glob("docs/*.md"), *ROOT.glob("docs/tutorial/*.md")]
    files += [
        *ROOT.glob("src/**/*.py"),
        *ROOT.glob("tests/**/*.py"),
        *ROOT.glob("examples/**/*.py"),
    ]
    citing = [str(f.relative_to(ROOT)) for f in files if old in f.read_text()]
    assert citing == []


# --- the checker, on pages made up for the purpose ---------------------------------------------

FAKE_TESTS = """
import pytest

def test_alone():
    pass

@pytest.mark.parametrize("x", [1, 2])
def test_with_cases(x):
    pass

def helper():
    pass

class TestGroup:
    def test_member(self):
        pass

class Helpers:
    def test_not_collected(self):
        pass
"""


@pytest.fixture
def fake_root(tmp_path: Path) -> Path:
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_fake.py").write_text(FAKE_TESTS)
    return tmp_path


def page(*rows: str) -> str:
    return "## Masks\n\n| case | result | test |\n|---|---|---|\n" + "\n".join(rows) + "\n"


@pytest.mark.parametrize(
    "cited",
    [
        "`tests/test_fake.py::test_alone`",
        "`tests/test_fake.py::test_with_cases[2]`",
        "`tests/test_fake.py::TestGroup::test_member`",
        "`tests/test_fake.py::test_alone`, `tests/test_fake.py::TestGroup::test_member`",
    ],
)
def test_checker_accepts_existing_tests(fake_root: Path, cited: str) -> None:
    assert problems(page(f"| a | b | {cited} |"), fake_root) == []


@pytest.mark.parametrize(
    ("cited", "reason"),
    [
        ("`tests/test_fake.py::test_missing`", "has no function test_missing"),
        ("`tests/test_fake.py::test_missing[1]`", "has no function test_missing"),
        ("`tests/test_gone.py::test_alone`", "tests/test_gone.py does not exist"),
        ("`tests/test_fake.py::helper`", "is not a test function"),
        ("`tests/test_fake.py::TestGroup::test_alone`", "TestGroup has no function test_alone"),
        ("`tests/test_fake.py::TestNone::test_member`", "has no class TestNone"),
        ("`tests/test_fake.py::Helpers::test_not_collected`", "is not a test class"),
    ],
)
def test_checker_refuses_a_test_that_does_not_exist(
    fake_root: Path, cited: str, reason: str
) -> None:
    (found,) = problems(page(f"| a | b | {cited} |"), fake_root)
    assert found.startswith("line 5: ")
    assert reason in found


@pytest.mark.parametrize("cell", ["", "see the tutorial", "tests/test_fake.py::test_alone"])
def test_checker_refuses_a_rule_without_a_test_id(fake_root: Path, cell: str) -> None:
    # The last one is not written as code, so it is not read as an id.
    (found,) = problems(page(f"| a rule | what happens | {cell} |"), fake_root)
    assert "no test id in 'a rule'" in found


def test_checker_reads_pipes_inside_cells_and_ignores_other_tables(fake_root: Path) -> None:
    text = page(r"| `rng=None \| int` | b | `tests/test_fake.py::test_alone` |") + (
        "\n| dtype | atol |\n|---|---|\n| float64 | 1e-12 |\n"
    )
    assert problems(text, fake_root) == []
    tables = parse_tables(text)
    assert [t.heading for t in tables] == ["Masks", "Masks"]
    assert tables[0].rows[0][1][0] == "`rng=None | int`"
    assert rule_column(tables[1]) is None


def test_checker_skips_tables_inside_code_fences(fake_root: Path) -> None:
    text = "```text\n| a | b | test |\n|---|---|---|\n| x | y | none |\n```\n"
    assert parse_tables(text) == []
    assert problems(text, fake_root) == []
