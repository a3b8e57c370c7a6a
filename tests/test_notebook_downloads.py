"""The notebook downloads of the tutorial pages (docs/_ext/sa_docs/notebooks.py).

The converter is a pure function of JSON-like data: it is loaded here by its path, with no Sphinx
(the tests' environment has none). The last tests convert every real tutorial page, split into
cells the way myst-nb splits it, so that a construct a page starts to use and the converter does
not know fails here, not in a reader's Jupyter.
"""

from __future__ import annotations

import importlib.util
import json
import re
import sys
import types
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MODULE = ROOT / "docs" / "_ext" / "sa_docs" / "notebooks.py"
PAGES = sorted((ROOT / "docs" / "tutorial").glob("[0-9][0-9]-*.md"))


def load_converter() -> types.ModuleType:
    spec = importlib.util.spec_from_file_location("sa_docs_notebooks", MODULE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look the module up while they are built
    spec.loader.exec_module(module)
    return module


nbs = load_converter()


def glued(text: str) -> dict:
    return {"data": {"text/plain": text}, "metadata": {}, "output_type": "display_data"}


def markdown(source: str) -> dict:
    return {"cell_type": "markdown", "id": "m", "metadata": {}, "source": source}


def code(source: str, **metadata) -> dict:
    return {
        "cell_type": "code",
        "id": "c",
        "metadata": metadata,
        "source": source,
        "outputs": [{"output_type": "stream", "name": "stdout", "text": "old\n"}],
        "execution_count": 3,
    }


def notebook(*cells: dict) -> dict:
    return {
        "cells": list(cells),
        "metadata": {"kernelspec": {"name": "python3"}, "source_map": [1], "jupytext": {}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def convert(*cells: dict, glue: dict | None = None, **kwargs) -> dict:
    kwargs.setdefault("docname", "tutorial/03-page")
    return nbs.downloadable_notebook(notebook(*cells), glue or {}, **kwargs)


def test_glue_text_roles_show_the_formatted_values():
    text = "A score of {glue:text}`score:.3f`, at index {glue:text}`index:d`, {glue:text}`name`."
    out = convert(
        markdown(text),
        glue={"score": glued("0.13610384"), "index": glued("1"), "name": glued("'x'")},
    )
    assert out["cells"][0]["source"] == "A score of 0.136, at index 1, x."
    assert nbs.leftover_myst(out) == []


def test_other_glue_roles_and_a_role_across_a_line_break():
    glue = {"a": glued("2.5"), "m": {"data": {"text/markdown": "**bold**", "text/plain": "x"}}}
    out = convert(markdown("{glue}`a`, {glue:any}`a`, {glue:}`a` and\n{glue:md}`m`"), glue=glue)
    assert out["cells"][0]["source"] == "2.5, 2.5, 2.5 and\n**bold**"


def test_a_glued_figure_becomes_an_attachment_of_its_cell():
    figure = {"data": {"image/png": "iVBORw0KGgo=", "text/plain": "<Figure>"}}
    out = convert(
        markdown("```{glue:figure} fig\n:name: fig-one\n\nThe caption.\n```"),
        glue={"fig": figure},
    )
    cell = out["cells"][0]
    assert cell["source"] == "![fig](attachment:fig.png)\n\nThe caption."
    assert cell["attachments"] == {"fig.png": {"image/png": "iVBORw0KGgo="}}


def test_a_glued_name_no_cell_glued_fails_instead_of_staying_raw():
    with pytest.raises(ValueError, match="'missing'"):
        convert(markdown("{glue:text}`missing:.2f`"))


def test_the_check_finds_what_only_the_site_understands():
    raw = notebook(
        markdown("{glue:text}`x:.2f`"),
        markdown("```{admonition} Exercise 1: x\nDo it.\n```"),
        markdown("See {func}`~simple_attention.softmax`."),
        code("from myst_nb import glue\nglue('x', 1)"),
    )
    problems = nbs.leftover_myst(raw)
    assert [p.split(":")[0] for p in problems] == [
        "cell 0",
        "cell 0",
        "cell 1",
        "cell 2",
        "cell 3",
    ]


def test_exercise_fences_become_quotes_with_a_bold_title():
    exercise = (
        "````{admonition} Exercise 2: sharper\n:class: tip\n\nMultiply the scores.\n\n"
        "```python\nprint('right')\n```\n````"
    )
    out = convert(markdown(exercise), markdown("```{admonition} Exercise 1: x\nDo it.\n```"))
    assert out["cells"][0]["source"] == (
        "> **Exercise 2: sharper**\n>\n> Multiply the scores.\n>\n"
        "> ```python\n> print('right')\n> ```"
    )
    assert out["cells"][1]["source"] == "> **Exercise 1: x**\n>\n> Do it."


def test_other_directives_and_myst_syntax_read_as_plain_markdown():
    source = "\n".join(
        [
            "(my-label)=",
            "% a comment for the source only",
            "```{note}",
            "A note.",
            "```",
            ":::{tip}",
            "A tip.",
            ":::",
            "```{math}",
            ":label: eq-one",
            "a = b",
            "```",
            "$$",
            "x = 1",
            "$$ (eq-two)",
            "```{toctree}",
            "other",
            "```",
            "```python",
            "keep {func}`this` as it is",
            "```",
        ]
    )
    out = convert(markdown(source))
    assert out["cells"][0]["source"] == "\n".join(
        [
            "> **Note**",
            ">",
            "> A note.",
            "",
            "",
            "> **Tip**",
            ">",
            "> A tip.",
            "",
            "",
            "$$",
            "a = b",
            "$$",
            "",
            "$$",
            "x = 1",
            "$$",
            "```python",
            "keep {func}`this` as it is",
            "```",
        ]
    )
    assert nbs.leftover_myst(out) == []


def test_roles_become_code_text_or_links_to_other_notebooks():
    source = (
        "{func}`~simple_attention.softmax`, {class}`simple_attention.TinyGPT`, "
        "{meth}`fit <simple_attention.TinyGPT.fit>`, {math}`d_k`, "
        "{doc}`the next page <04-next>`, {doc}`../conventions`, {doc}`05-other`, "
        "{ref}`Vaswani et al., 2017 <ref-vaswani2017>`, {ref}`ref-ba2016`, {kbd}`Ctrl`"
    )
    out = convert(
        markdown(source),
        notebooks=["tutorial/03-page", "tutorial/04-next", "tutorial/05-other"],
        titles={"conventions": "Conventions", "tutorial/05-other": "5. Other"},
        labels={"ref-ba2016": "Ba et al., 2016"},
    )
    assert out["cells"][0]["source"] == (
        "`softmax()`, `simple_attention.TinyGPT`, `fit`, $d_k$, "
        "[the next page](04-next.ipynb), Conventions, [5. Other](05-other.ipynb), "
        "Vaswani et al., 2017, Ba et al., 2016, <kbd>Ctrl</kbd>"
    )


def test_solutions_and_hidden_checks_are_collapsed_and_keep_their_tags():
    solution = {"code_prompt_show": "Show the solution"}
    out = convert(
        code("x = 1", tags=["hide-input"], mystnb=solution),
        code("x = 2", tags=["hide-cell"], mystnb=solution),
        code("x = 3", tags=["hide-output"]),
        code("assert x == 3", tags=["remove-cell"]),
        code("x = 4", tags=["remove-input"]),
        code("x = 5", mystnb=solution),
        code("x = 6"),
    )
    jupyter = [cell["metadata"].get("jupyter") for cell in out["cells"]]
    assert jupyter == [
        {"source_hidden": True},
        {"source_hidden": True, "outputs_hidden": True},
        {"outputs_hidden": True},
        {"source_hidden": True, "outputs_hidden": True},
        {"source_hidden": True},
        {"source_hidden": True},
        None,
    ]
    assert [cell["metadata"].get("tags") for cell in out["cells"][:2]] == [
        ["hide-input"],
        ["hide-cell"],
    ]
    # Nothing is removed: a hidden check still runs in the download.
    assert [cell["source"] for cell in out["cells"]][3] == "assert x == 3"
    assert all(cell["outputs"] == [] and cell["execution_count"] is None for cell in out["cells"])


def test_the_glue_import_is_guarded_and_its_fallback_works(monkeypatch):
    out = convert(code("import numpy as np\nfrom myst_nb import glue\n\nx = 1"))
    source = out["cells"][0]["source"]
    assert re.search(r"^try:\n    from myst_nb import glue\nexcept ImportError:", source, re.M)
    assert nbs.leftover_myst(out) == []
    # Run it where myst_nb cannot be imported: glue shows a value only when asked to.
    shown = []
    fake_display = types.ModuleType("IPython.display")
    fake_display.display = shown.append
    fake_ipython = types.ModuleType("IPython")
    fake_ipython.display = fake_display
    monkeypatch.setitem(sys.modules, "myst_nb", None)
    monkeypatch.setitem(sys.modules, "IPython", fake_ipython)
    monkeypatch.setitem(sys.modules, "IPython.display", fake_display)
    namespace: dict = {}
    exec(source, namespace)
    namespace["glue"]("hidden", 1.5, display=False)
    namespace["glue"]("shown", 2.5)
    assert shown == [2.5]


def test_any_other_import_of_myst_nb_fails():
    with pytest.raises(ValueError, match="myst_nb"):
        convert(code("import myst_nb"))
    with pytest.raises(ValueError, match="myst_nb"):
        convert(code("from myst_nb import glue as paste"))


def test_a_data_file_is_carried_by_the_cell_that_names_it():
    data = {"machine": {"cpu": "x"}, "sizes": [1, 2], "path": "a\\b"}
    cell = code(
        "results = json.loads(find_results().read_text())",
        notebook_download={"inline_json": {"results": "benchmarks/results/latest.json"}},
    )
    out = convert(cell, files={"benchmarks/results/latest.json": json.dumps(data)})
    namespace: dict = {}
    exec(out["cells"][0]["source"], namespace)
    assert namespace["results"] == data
    assert "find_results" not in out["cells"][0]["source"]
    assert out["cells"][0]["metadata"]["jupyter"] == {"source_hidden": True}  # long: collapsed
    with pytest.raises(ValueError, match="no content"):
        convert(cell)


def test_the_note_goes_under_the_title_and_the_build_metadata_goes():
    out = convert(markdown("# 3. A page\n\nText."), project="simple-attention")
    title, blank, note = out["cells"][0]["source"].split("\n")[:3]
    assert (title, blank) == ("# 3. A page", "")
    assert note.startswith("> *This notebook is a page of the simple-attention tutorial.")
    assert set(out["metadata"]) == {"kernelspec", "language_info"}


def test_the_input_is_not_changed():
    page = notebook(
        markdown("{glue:text}`x`"), code("from myst_nb import glue", tags=["hide-cell"])
    )
    before = json.dumps(page, sort_keys=True)
    nbs.downloadable_notebook(page, {"x": glued("1")}, docname="tutorial/03-page")
    assert json.dumps(page, sort_keys=True) == before


# -- The real pages -------------------------------------------------------------------------------

CODE_CELL = re.compile(r"^```\{code-cell\}[^\n]*\n(?P<body>.*?)^```$", re.M | re.S)


def page_as_notebook(path: Path) -> tuple[dict, dict]:
    """A page split into cells as myst-nb splits it, and a glued value for every name it pastes.

    Code cells are the top-level ``{code-cell}`` fences, with their ``:tags:`` or YAML options;
    the text between them is markdown. Every name the page pastes gets the value 1.
    """
    text = path.read_text(encoding="utf-8")
    text = re.sub(r"\A---\n.*?\n---\n", "", text, flags=re.S)  # the page's own front matter
    cells = []
    position = 0
    for match in CODE_CELL.finditer(text):
        cells.append(markdown(text[position : match.start()]))
        body = match["body"]
        metadata: dict = {}
        tags = re.match(r"\A:tags: \[(?P<tags>[^\]]*)\]\n", body)
        if tags:
            metadata["tags"] = [t.strip() for t in tags["tags"].split(",")]
            body = body[tags.end() :]
        yaml = re.match(r"\A---\n(?P<yaml>.*?)\n---\n", body, re.S)
        if yaml:
            body = body[yaml.end() :]
            metadata["tags"] = re.findall(r"(?:hide|remove)-\w+", yaml["yaml"])
            if "code_prompt_show" in yaml["yaml"]:
                metadata["mystnb"] = {"code_prompt_show": "Show the solution"}
            if "inline_json" in yaml["yaml"]:
                inline = re.findall(r"^\s+(\w+): (\S+)$", yaml["yaml"], re.M)
                metadata["notebook_download"] = {"inline_json": dict(inline)}
        cells.append(code(body, **metadata))
        position = match.end()
    cells.append(markdown(text[position:]))
    pasted = re.findall(r"\{glue(?::\w*)?\}`([^`:]+)", text)
    pasted += re.findall(r"^[`:]{3,}\{glue(?::\w+)?\}\s+(\S+)", text, re.M)
    return notebook(*cells), {name: glued("1") for name in pasted}


def test_the_page_split_finds_the_cells():
    page, glue = page_as_notebook(ROOT / "docs" / "tutorial" / "03-attention-for-one-query.md")
    kinds = [cell["cell_type"] for cell in page["cells"]]
    assert kinds.count("code") == len(re.findall(r"^```\{code-cell\}", PAGES[2].read_text(), re.M))
    assert "query_index" in glue


@pytest.mark.parametrize("path", PAGES, ids=[p.stem for p in PAGES])
def test_every_tutorial_page_converts_to_plain_jupyter(path):
    page, glue = page_as_notebook(path)
    files = {
        target: "{}"
        for cell in page["cells"]
        for target in cell["metadata"].get("notebook_download", {}).get("inline_json", {}).values()
    }
    docname = f"tutorial/{path.stem}"
    out = nbs.downloadable_notebook(
        page, glue, docname=docname, notebooks=[f"tutorial/{p.stem}" for p in PAGES], files=files
    )
    assert nbs.leftover_myst(out) == []
    sources = "\n".join(cell["source"] for cell in out["cells"] if cell["cell_type"] == "code")
    assert "from myst_nb import glue" in sources  # the page glues, so the import is there ...
    assert not re.search(r"^from myst_nb", sources, re.M)  # ... but never unguarded
    for cell in out["cells"]:
        if cell["cell_type"] == "code":
            compile(re.sub(r"^\s*%.*$", "", cell["source"], flags=re.M), path.name, "exec")
