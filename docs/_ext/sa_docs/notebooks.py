"""Every tutorial page as a notebook that runs anywhere: the ``.ipynb`` of its download menu.

myst-nb writes each page it executes as a notebook (``_build/jupyter_execute/PAGE.ipynb``) and
the values its ``glue`` calls recorded (``PAGE.glue.json``), but that notebook is not one a
reader can use: its prose holds ``{glue:text}`` roles and ``{admonition}`` fences that only the
site's build understands, and its first cell imports ``myst_nb``, which a reader does not have.
:func:`downloadable_notebook` turns it into one that runs with the library, its ``plot`` extra
and a Jupyter kernel alone:

* the prose shows the values of the build where the page glues them, and every MyST role and
  directive becomes plain Jupyter Markdown (an exercise box is a quote with a bold title, a
  reference to a function is its name in code, a link to another tutorial page is a link to
  that page's notebook);
* ``from myst_nb import glue`` becomes a guarded import with a fallback that only shows the
  value;
* cells the page hides (solutions, hidden checks) are collapsed, and still run;
* a cell whose metadata names a data file the page reads (``notebook_download: {inline_json:
  {NAME: PATH}}``) holds that file's content in the download instead, so that the notebook runs
  outside the repository;
* outputs are left out: the reader runs the notebook.

The conversion is a pure function of JSON-like data, with no Sphinx import, so that the tests
(and ``nox -s notebooks``, through :func:`leftover_myst`) can load this file alone. The Sphinx
side, :func:`setup`, writes each converted notebook next to the page's source in the built site
(``_sources/PAGE.ipynb``) and sets ``ipynb_source``, from which sphinx-book-theme adds the
``.ipynb`` entry to the download menu.
"""

from __future__ import annotations

import ast
import copy
import fnmatch
import json
import posixpath
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from docutils import nodes
    from sphinx.application import Sphinx

__all__ = ["downloadable_notebook", "leftover_myst"]

# Tags of myst-nb that hide a cell's source (input) or its outputs on the page.
HIDES_SOURCE = {"hide-input", "hide-cell", "remove-input", "remove-cell"}
HIDES_OUTPUTS = {"hide-output", "hide-cell", "remove-output", "remove-cell"}

# What the import of glue becomes: the same call, with a fallback that needs no myst_nb.
GLUE_FALLBACK = """\
{indent}try:
{indent}    from myst_nb import glue
{indent}except ImportError:  # outside the site's build, glue(name, value) only shows the value
{indent}    import IPython.display

{indent}    def glue(name, value, display=True):
{indent}        if display:
{indent}            IPython.display.display(value)"""

NOTE = """\
> *This notebook is a page of the {project} tutorial. It runs with the library, its `plot`
> extra and a Jupyter kernel. The numbers quoted in the text were computed when the site was
> built; the cells compute them again when you run them.*"""

ADMONITIONS = {
    "attention": "Attention",
    "caution": "Caution",
    "danger": "Danger",
    "error": "Error",
    "hint": "Hint",
    "important": "Important",
    "note": "Note",
    "seealso": "See also",
    "tip": "Tip",
    "todo": "To do",
    "warning": "Warning",
}
GLUE_NAMES = {"glue", "glue:", "glue:any", "glue:text", "glue:md", "glue:figure", "glue:math"}
# Directives with nothing to show in a notebook.
DROPPED_DIRECTIVES = {"toctree", "contents", "tableofcontents", "index", "meta", "rubric-index"}
CODE_DIRECTIVES = {"code", "code-block", "sourcecode", "code-cell", "literalinclude"}
# Python-domain roles: the name in code, with "()" for a callable as Sphinx writes it.
PY_ROLES = {"func", "meth", "class", "attr", "mod", "obj", "data", "exc", "const", "type"}
CALLABLE_ROLES = {"func", "meth"}

# An opening or closing code fence (CommonMark) or MyST colon fence.
FENCE = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|~{3,}|:{3,})(?P<info>.*)$")
DIRECTIVE_INFO = re.compile(r"^\{(?P<name>[^}\s]+)\}\s*(?P<argument>.*)$")
# A role: {name}`content` (content may wrap onto the next line, as in MyST).
ROLE = re.compile(r"\{(?P<name>[A-Za-z][\w:+.-]*|glue:)\}`(?P<content>[^`]+)`")
TITLE_TARGET = re.compile(r"^(?P<title>.*?)\s*<(?P<target>[^<>]+)>$", re.DOTALL)
TARGET_LINE = re.compile(r"^\s*\([^()\s]+\)=\s*$")  # (label)=
MATH_LABEL = re.compile(r"^(\s*\$\$)\s*\([^()]+\)\s*$")  # $$ (label)
MYST_NB_IMPORT = re.compile(r"^\s*(from\s+myst_nb\b|import\s+myst_nb\b)", re.MULTILINE)
GLUE_IMPORT = re.compile(r"^(?P<indent>[ \t]*)from myst_nb import glue[ \t]*(#.*)?$")


@dataclass
class Context:
    """What converting a page needs besides the page itself (see :func:`downloadable_notebook`)."""

    docname: str
    glue: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    notebooks: frozenset[str] = frozenset()
    titles: Mapping[str, str] = field(default_factory=dict)
    labels: Mapping[str, str] = field(default_factory=dict)
    files: Mapping[str, str] = field(default_factory=dict)
    # Image data that glue directives place into the current markdown cell.
    attachments: dict[str, dict[str, str]] = field(default_factory=dict)


def downloadable_notebook(
    notebook: Mapping[str, Any],
    glue: Mapping[str, Mapping[str, Any]] | None = None,
    *,
    docname: str,
    notebooks: Iterable[str] = (),
    titles: Mapping[str, str] | None = None,
    labels: Mapping[str, str] | None = None,
    files: Mapping[str, str] | None = None,
    project: str | None = None,
) -> dict[str, Any]:
    """The page's notebook as a reader can run it; the input is not changed.

    Parameters
    ----------
    notebook : mapping
        The executed notebook (nbformat 4, as JSON), as myst-nb writes it.
    glue : mapping, optional
        Each glued name's display data (``{"data": {mime: text}, ...}``), as in myst-nb's
        ``PAGE.glue.json``.
    docname : str
        The page, e.g. ``"tutorial/03-attention-for-one-query"``: links are relative to it.
    notebooks : iterable of str
        The pages that have a notebook download: a reference to one becomes a link to its
        ``.ipynb`` (next to this one), a reference to any other page plain text.
    titles, labels : mapping, optional
        Page titles by page, section titles by label: the text of a ``{doc}`` or ``{ref}``
        that gives none.
    files : mapping, optional
        The text of each file that a cell's ``notebook_download.inline_json`` names, by the
        path given there.
    project : str, optional
        The project's name, for a note under the page's title; no note without it.

    Raises
    ------
    ValueError
        If the prose pastes a glued name that ``glue`` lacks, if a cell imports ``myst_nb``
        other than as ``from myst_nb import glue``, or if an inlined file is missing from
        ``files`` or is not JSON.
    """
    context = Context(
        docname=docname,
        glue=glue or {},
        notebooks=frozenset(notebooks),
        titles=titles or {},
        labels=labels or {},
        files=files or {},
    )
    result = copy.deepcopy(dict(notebook))
    metadata = result.get("metadata", {})
    # jupytext's pairing and myst-nb's line map describe the page's source, not this file.
    result["metadata"] = {k: v for k, v in metadata.items() if k not in {"jupytext", "source_map"}}
    result["metadata"].setdefault("language_info", {"name": "python"})
    noted = project is None
    for cell in result["cells"]:
        source = _text(cell.get("source", ""))
        if cell["cell_type"] == "markdown":
            context.attachments = {}
            text = convert_markdown(source, context)
            if not noted and re.match(r"#\s", text):
                title, _, rest = text.partition("\n")
                text = f"{title}\n\n{NOTE.format(project=project)}\n{rest}"
                noted = True
            cell["source"] = text
            if context.attachments:
                cell["attachments"] = {**cell.get("attachments", {}), **context.attachments}
        elif cell["cell_type"] == "code":
            cell["source"] = convert_code(source, cell.get("metadata", {}), context)
            cell["outputs"] = []
            cell["execution_count"] = None
            _collapse(cell)
            if "notebook_download" in cell["metadata"]:  # the data: long, and not to be read
                cell["metadata"].setdefault("jupyter", {})["source_hidden"] = True
    return result


def convert_code(source: str, metadata: Mapping[str, Any], context: Context) -> str:
    """A code cell's source for the download: the glue import guarded, data files inlined."""
    inline = metadata.get("notebook_download", {}).get("inline_json")
    if inline:
        return _inlined_json(inline, context)
    lines = []
    for line in source.split("\n"):
        match = GLUE_IMPORT.match(line)
        lines.append(GLUE_FALLBACK.format(indent=match["indent"]) if match else line)
    converted = "\n".join(lines)
    if _unguarded_myst_nb(converted):
        raise ValueError(
            f"{context.docname}: a cell imports myst_nb other than as 'from myst_nb import glue'; "
            "a reader does not have myst_nb, so the download would fail there"
        )
    return converted


def _inlined_json(inline: Mapping[str, str], context: Context) -> str:
    """Assignments ``NAME = json.loads(...)`` holding each file's text, instead of the cell."""
    lines = [
        "# The data this page reads from the repository, copied in when the site was built, so",
        "# that the notebook runs anywhere.",
        "import json",
        "",
    ]
    for name, path in inline.items():
        if not name.isidentifier():
            raise ValueError(f"{context.docname}: inline_json: {name!r} is not a variable name")
        if path not in context.files:
            raise ValueError(f"{context.docname}: inline_json: no content given for {path!r}")
        try:
            data = json.loads(context.files[path])
        except json.JSONDecodeError as exc:
            raise ValueError(f"{context.docname}: {path} is not JSON: {exc}") from None
        text = json.dumps(data, indent=1, ensure_ascii=False)
        # A raw triple-quoted string shows the JSON as it is; repr() where it could not.
        quoted = f'r"""\n{text}\n"""' if '"""' not in text and "\\" not in text else repr(text)
        lines += [f"# {path}", f"{name} = json.loads({quoted})", ""]
    return "\n".join(lines).rstrip() + "\n"


def _collapse(cell: dict[str, Any]) -> None:
    """Collapse what the page hides; the cell still runs and keeps its tags."""
    metadata = cell.setdefault("metadata", {})
    tags = set(metadata.get("tags", []))
    jupyter = dict(metadata.get("jupyter", {}))
    if tags & HIDES_SOURCE or "code_prompt_show" in metadata.get("mystnb", {}):
        jupyter["source_hidden"] = True
    if tags & HIDES_OUTPUTS:
        jupyter["outputs_hidden"] = True
    if jupyter:
        metadata["jupyter"] = jupyter


# -- Markdown -----------------------------------------------------------------------------------


def convert_markdown(text: str, context: Context) -> str:
    """MyST Markdown as plain Jupyter Markdown (see the module docstring)."""
    return "\n".join(_convert_lines(text.split("\n"), context)).strip("\n")


def _convert_lines(lines: list[str], context: Context) -> list[str]:
    out: list[str] = []
    prose: list[str] = []  # lines of text whose roles are replaced together (roles may wrap)

    def flush() -> None:
        if prose:
            out.extend(_convert_inline("\n".join(prose), context).split("\n"))
            prose.clear()

    i = 0
    in_math = False
    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        if in_math:
            # Display maths: kept as it is, but for the label MyST allows after its closing $$.
            label = MATH_LABEL.match(line)
            out.append(label[1] if label else line)
            in_math = not (stripped.startswith("$$") or stripped.endswith("$$"))
            i += 1
            continue
        if stripped.startswith("$$") and not (len(stripped) > 2 and stripped.endswith("$$")):
            flush()
            out.append(line)
            in_math = True
            i += 1
            continue
        fence = FENCE.match(line)
        directive = DIRECTIVE_INFO.match(fence["info"].strip()) if fence else None
        if fence and (directive or fence["fence"][0] != ":"):
            flush()
            end = _closing_fence(lines, i + 1, fence["fence"])
            body = lines[i + 1 : end]
            if directive:
                out.extend(
                    _directive(directive["name"], directive["argument"].strip(), body, context)
                )
            else:  # an ordinary code block: left alone, roles and all
                out.extend([line, *body, lines[end] if end < len(lines) else fence["fence"]])
            i = end + 1
            continue
        if TARGET_LINE.match(line) or (stripped.startswith("%") and not stripped.startswith("%%")):
            i += 1  # a MyST target or comment: nothing to show
            continue
        prose.append(line)
        i += 1
    flush()
    return out


def _closing_fence(lines: list[str], start: int, fence: str) -> int:
    """The index of the line that closes ``fence`` (``len(lines)`` if none does)."""
    closing = re.compile(rf"^ {{0,3}}{re.escape(fence[0])}{{{len(fence)},}}\s*$")
    for j in range(start, len(lines)):
        if closing.match(lines[j]):
            return j
    return len(lines)


def _options(body: list[str]) -> tuple[dict[str, str], list[str]]:
    """A directive's options (``:key: value`` lines or a ``---`` YAML block) and its content."""
    options: dict[str, str] = {}
    rest = body
    if body and body[0].strip() == "---":
        end = next((j for j in range(1, len(body)) if body[j].strip() == "---"), len(body))
        for line in body[1:end]:
            key, _, value = line.partition(":")
            options[key.strip()] = value.strip()
        rest = body[end + 1 :]
    else:
        j = 0
        while j < len(rest) and re.match(r"^\s*:[\w-]+:", rest[j]):
            key, _, value = rest[j].strip()[1:].partition(":")
            options[key] = value.strip()
            j += 1
        rest = rest[j:]
    while rest and not rest[0].strip():
        rest = rest[1:]
    return options, rest


def _quote(title: str, content: list[str]) -> list[str]:
    """A Markdown quote that opens with a bold title."""
    lines = [f"**{title}**", ""] if title else []
    lines += content
    while lines and not lines[-1].strip():
        lines.pop()
    return ["", *[f"> {line}".rstrip() for line in lines], ""]


def _directive(name: str, argument: str, body: list[str], context: Context) -> list[str]:
    """One directive as plain Markdown."""
    options, content = _options(body)
    if name in GLUE_NAMES:
        return _glue_block(name, argument, content, context)
    if name in DROPPED_DIRECTIVES:
        return []
    if name == "math":
        lines = [line for line in content if line.strip()]
        return ["", "$$", *lines, "$$", ""]
    if name in CODE_DIRECTIVES:
        fence = "`" * max(
            3, 1 + max((len(m) for m in re.findall("`+", "\n".join(content))), default=0)
        )
        return [f"{fence}{argument.split()[0] if argument else ''}", *content, fence]
    if name == "raw":
        return content if argument.lower() == "html" else []
    if name in {"figure", "image"}:
        image = f"![{options.get('alt', '')}]({argument})"
        return ["", image, "", *_convert_lines(content, context), ""]
    if name in ADMONITIONS or name == "admonition":
        title = argument if name == "admonition" else ADMONITIONS[name]
        if name != "admonition" and argument:
            content = [argument, *content]  # a note's first line may sit next to its name
        return _quote(_convert_inline(title, context), _convert_lines(content, context))
    # Any other directive: its content, quoted under its argument.
    return _quote(_convert_inline(argument, context), _convert_lines(content, context))


def _glue_block(name: str, key: str, caption: list[str], context: Context) -> list[str]:
    """A glue directive: the glued value, shown the way its richest data allows."""
    data = _glued(key, context)["data"]
    lines: list[str]
    image = next((m for m in ("image/svg+xml", "image/png", "image/jpeg") if m in data), None)
    if name == "glue:math" or (name != "glue:figure" and "text/latex" in data and not image):
        latex = _text(data.get("text/latex", data.get("text/plain", ""))).strip().strip("$")
        lines = ["$$", latex.strip(), "$$"]
    elif image:
        attachment = f"{key}.{image.split('/')[1].split('+')[0]}"
        context.attachments[attachment] = {image: _text(data[image])}
        lines = [f"![{key}](attachment:{attachment})"]
    elif "text/markdown" in data:
        lines = _text(data["text/markdown"]).split("\n")
    elif "text/html" in data:
        lines = _text(data["text/html"]).split("\n")
    else:
        lines = ["```", _text(data.get("text/plain", "")), "```"]
    return ["", *lines, "", *_convert_lines(caption, context), ""]


def _convert_inline(text: str, context: Context) -> str:
    return ROLE.sub(lambda m: _role(m["name"], m["content"], context), text)


def _split_title(content: str) -> tuple[str | None, str]:
    match = TITLE_TARGET.match(content.strip())
    if match and match["title"]:
        return match["title"], match["target"].strip()
    return None, content.strip()


def _role(name: str, content: str, context: Context) -> str:
    """One role as plain Markdown."""
    domain, _, role = name.rpartition(":")
    if name in GLUE_NAMES:
        return _glue_inline(name, content, context)
    if name == "math":
        return f"${content}$"
    if name == "doc":
        title, target = _split_title(content)
        docname = posixpath.normpath(
            target.lstrip("/")
            if target.startswith("/")
            else posixpath.join(posixpath.dirname(context.docname), target)
        )
        docname = docname.removesuffix(".md").removesuffix(".ipynb")
        text = title or context.titles.get(docname, target)
        if docname in context.notebooks:
            relative = posixpath.relpath(docname, posixpath.dirname(context.docname) or ".")
            return f"[{text}]({relative}.ipynb)"
        return text
    if role in {"ref", "numref", "eq", "term", "any", "keyword", "option", "envvar"}:
        title, target = _split_title(content)
        return title or context.labels.get(target, target)
    if role in PY_ROLES and domain in {"", "py"}:
        title, target = _split_title(content)
        if title is None:
            target = target.lstrip("!.")
            title = target.rpartition(".")[2] if target.startswith("~") else target
            title = title.lstrip("~")
            if role in CALLABLE_ROLES and not title.endswith(")"):
                title += "()"
        return f"`{title}`"
    if name in {"code", "literal", "samp", "file", "command", "program"}:
        return f"`{content}`"
    if name in {"sup", "sub", "kbd"}:
        return f"<{name}>{content}</{name}>"
    if name == "abbr":
        return content.split("(")[0].strip()
    title, _target = _split_title(content)
    return title if title is not None else content


def _glued(key: str, context: Context) -> Mapping[str, Any]:
    if "::" in key:
        raise ValueError(f"{context.docname}: pasting {key!r} from another page is not supported")
    if key not in context.glue:
        raise ValueError(f"{context.docname}: the page pastes {key!r}, which no cell glued")
    return context.glue[key]


def _glue_inline(name: str, content: str, context: Context) -> str:
    """A glue role as the text the site shows (myst-nb's formatting, for glue:text)."""
    key, fmt = content, ""
    if name in {"glue:text", "glue:md"} and ":" in content.rsplit("::", 1)[-1]:
        key, _, fmt = content.rpartition(":")
    data = _glued(key, context)["data"]
    if name == "glue:md" or (name != "glue:text" and "text/markdown" in data):
        return _text(data.get("text/markdown", data.get("text/plain", ""))).strip()
    if name != "glue:text" and "text/latex" in data:
        return f"${_text(data['text/latex']).strip().strip('$')}$"
    if "text/plain" not in data:
        raise ValueError(f"{context.docname}: {key!r} has no text to paste")
    return format_plain_text(_text(data["text/plain"]), fmt or "s")


def format_plain_text(text: str, fmt_spec: str) -> str:
    """``text/plain`` formatted as the role ``{glue:text}`KEY:FMT``` formats it in myst-nb."""
    try:
        value: Any = ast.literal_eval(text)
    except (SyntaxError, ValueError):
        value = text
    if fmt_spec == "":
        return str(value)
    kind = fmt_spec[-1]
    if kind == "s":
        value = str(value)
    elif kind in "bcdoxX":
        value = int(value)
    elif kind in "eEfFgGn%":
        value = float(value)
    return format(value, fmt_spec)


def _text(source: str | list[str]) -> str:
    return source if isinstance(source, str) else "".join(source)


# -- Checks -------------------------------------------------------------------------------------


def _unguarded_myst_nb(source: str) -> bool:
    """Whether ``source`` imports myst_nb outside the guarded glue import."""
    guarded = [GLUE_FALLBACK.format(indent=m["indent"]) for m in _fallbacks(source)]
    for text in guarded:
        source = source.replace(text, "")
    return bool(MYST_NB_IMPORT.search(source))


def _fallbacks(source: str) -> list[re.Match[str]]:
    return list(re.finditer(r"^(?P<indent>[ \t]*)try:\n(?P=indent)    from myst_nb", source, re.M))


def leftover_myst(notebook: Mapping[str, Any]) -> list[str]:
    """What in a downloaded notebook still needs the site's build: one line per problem.

    Raw glue roles, MyST directive fences, MyST roles in the prose, and imports of ``myst_nb``
    without the fallback. An empty list means the notebook reads as plain Jupyter Markdown
    and imports nothing a reader lacks.
    """
    problems = []
    for index, cell in enumerate(notebook.get("cells", [])):
        source = _text(cell.get("source", ""))
        where = f"cell {index}"
        if cell["cell_type"] == "markdown":
            if "{glue" in source:
                problems.append(f"{where}: a raw glue role or directive")
            for line in source.split("\n"):
                fence = FENCE.match(line.lstrip("> "))
                if fence and DIRECTIVE_INFO.match(fence["info"].strip()):
                    problems.append(f"{where}: a MyST directive fence: {line.strip()}")
            prose = re.sub(r"(?ms)^ {0,3}(`{3,}).*?^ {0,3}\1", "", source)  # code blocks aside
            for role in ROLE.finditer(prose):
                problems.append(f"{where}: a MyST role: {role[0]}")
        elif cell["cell_type"] == "code" and _unguarded_myst_nb(source):
            problems.append(f"{where}: imports myst_nb without a fallback")
    return problems


# -- Sphinx -------------------------------------------------------------------------------------


def _find_upwards(start: Path, relative: str) -> Path:
    """``relative`` in ``start`` or the nearest folder above it that has it."""
    for folder in [start, *start.parents]:
        if (folder / relative).is_file():
            return folder / relative
    raise FileNotFoundError(relative)


def _offered(app: Sphinx, pagename: str) -> bool:
    """Whether the page is a notebook that the setting ``notebook_downloads`` offers."""
    if "kernelspec" not in app.env.metadata.get(pagename, {}):
        return False
    return any(fnmatch.fnmatchcase(pagename, pattern) for pattern in app.config.notebook_downloads)


def add_notebook_download(
    app: Sphinx,
    pagename: str,
    templatename: str,
    context: dict[str, Any],
    doctree: nodes.document | None,
) -> None:
    """Write the page's downloadable notebook and offer it in the page's download menu."""
    from sphinx.util import logging

    if doctree is None or not _offered(app, pagename):
        return
    logger = logging.getLogger(__name__)
    executed = Path(app.outdir).parent / "jupyter_execute" / f"{pagename}.ipynb"
    glue_file = executed.with_name(f"{executed.stem}.glue.json")
    if not executed.is_file():
        logger.warning(
            f"no executed notebook for {pagename}: no .ipynb download", location=pagename
        )
        return
    notebook = json.loads(executed.read_text(encoding="utf-8"))
    glue = json.loads(glue_file.read_text(encoding="utf-8")) if glue_file.is_file() else {}
    page_folder = Path(app.env.doc2path(pagename)).parent
    files = {}
    for cell in notebook["cells"]:
        for path in (
            cell.get("metadata", {}).get("notebook_download", {}).get("inline_json", {}).values()
        ):
            files[path] = _find_upwards(page_folder, path).read_text(encoding="utf-8")
    std = app.env.domaindata.get("std", {})
    try:
        converted = downloadable_notebook(
            notebook,
            glue,
            docname=pagename,
            notebooks=[name for name in app.env.found_docs if _offered(app, name)],
            titles={name: title.astext() for name, title in app.env.titles.items()},
            labels={label: title for label, (_doc, _id, title) in std.get("labels", {}).items()},
            files=files,
            project=app.config.project,
        )
    except (ValueError, FileNotFoundError) as exc:
        logger.warning(f"no .ipynb download: {exc}", location=pagename)
        return
    for problem in leftover_myst(converted):
        logger.warning(
            f"the .ipynb download still needs the site's build: {problem}", location=pagename
        )
    target = Path(app.outdir) / "_sources" / f"{pagename}.ipynb"
    target.parent.mkdir(parents=True, exist_ok=True)
    for cell in converted["cells"]:  # as nbformat writes it: one string per line
        cell["source"] = _text(cell["source"]).splitlines(keepends=True)
    target.write_text(json.dumps(converted, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    # sphinx-book-theme adds "_sources/<ipynb_source>" to the download menu as ".ipynb".
    context["ipynb_source"] = f"{pagename}.ipynb"


def setup(app: Sphinx) -> None:
    """Register the setting and the hook (before the theme builds its buttons, at 501)."""
    app.add_config_value("notebook_downloads", ["**"], "html", types=frozenset({list, tuple}))
    app.connect("html-page-context", add_notebook_download, priority=450)
