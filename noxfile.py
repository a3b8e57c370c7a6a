#!/usr/bin/env python3
# /// script
# dependencies = ["nox>=2025.02.09"]
# ///
"""Developer tasks. Run ``nox -s tests`` or ``nox -s docs`` (``nox -l`` lists them all).

Each session installs what it needs into its own virtual environment, from ``pyproject.toml``:
the package itself (editable) plus one of its dependency groups.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import nox
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

# Dependency groups in pyproject.toml, sessions with default=False, script mode: all 2025.02.09.
nox.needs_version = ">=2025.02.09"
nox.options.reuse_venv = "yes"
# pip, not uv: installs then follow pip's own configuration (indexes, local wheels such as the
# CPU build of PyTorch the parity session asks for), which uv does not read.
nox.options.default_venv_backend = "virtualenv"

PYPROJECT = nox.project.load_toml("pyproject.toml")


def install(session: nox.Session, *groups: str, extras: str = "") -> None:
    """Install the package (editable, with ``extras``) and the named dependency groups."""
    requirements = [r for g in groups for r in nox.project.dependency_groups(PYPROJECT, g)]
    session.install("-e", f".{extras}", *requirements)


def floor(requirement: str) -> str:
    """The lowest version ``requirement`` allows: the version of its one ``>=`` bound."""
    bounds = [s.version for s in Requirement(requirement).specifier if s.operator == ">="]
    if len(bounds) != 1:
        raise ValueError(f"{requirement!r} needs exactly one '>=' bound to have a lowest version")
    return bounds[0]


def lowest_pins(*requirements: str) -> list[str]:
    """``name==X`` for each ``name>=X`` (extras and markers kept), one pin per package.

    Raises ``ValueError`` if a requirement has no single ``>=`` bound, or if two requirements on
    the same package have different floors.
    """
    pins: dict[str, Requirement] = {}
    for text in requirements:
        pinned = Requirement(text)
        pinned.specifier = SpecifierSet(f"=={floor(text)}")
        name = canonicalize_name(pinned.name)
        if name in pins and pins[name].specifier != pinned.specifier:
            raise ValueError(f"{pinned.name}: two different floors, {pins[name]} and {pinned}")
        pins[name] = pinned
    return [str(pin) for pin in pins.values()]


# The oldest Python pyproject.toml allows, for the lowest-versions session.
LOWEST_PYTHON = floor(f"python{PYPROJECT['project']['requires-python']}")


@nox.session
def tests(session: nox.Session) -> None:
    """Unit tests, property tests and the docstring examples (doctests).

    With the ``fast`` extra, so that the kernels' threads are tested; ``tests_lowest`` runs
    without it, the way the kernels run where threadpoolctl is not installed.
    """
    install(session, "test", extras="[fast]")
    session.run("pytest", *session.posargs, env={"MPLBACKEND": "Agg"})


@nox.session(python=LOWEST_PYTHON, default=False)
def tests_lowest(session: nox.Session) -> None:
    """The tests on the oldest Python and the oldest releases that pyproject.toml allows.

    Every ``>=`` floor of the dependencies, of the ``plot`` extra and of the ``test`` group is
    pinned with ``==`` (the pins are read from pyproject.toml each run; what those releases
    depend on resolves as usual), so a floor set lower than what the code needs fails here.
    """
    project = PYPROJECT["project"]
    pins = lowest_pins(
        *project["dependencies"],
        *project["optional-dependencies"]["plot"],
        *nox.project.dependency_groups(PYPROJECT, "test"),
    )
    # matplotlib 3.8 calls pyparsing by the names that pyparsing 3.3 deprecates, and the tests
    # make every warning an error: pair it with a pyparsing of its own time.
    session.install("-e", ".", *pins, "pyparsing<3.3")
    session.run("pytest", *session.posargs, env={"MPLBACKEND": "Agg"})


@nox.session(default=False)
def parity(session: nox.Session) -> None:
    """Compare outputs and gradients with PyTorch autograd (optional, not run by default).

    Installs the CPU build of ``torch==2.13.0`` and runs ``tests/parity``. Without PyTorch those
    tests skip themselves, so the plain ``tests`` session stays free of it.
    """
    install(session, "test")
    session.install("torch==2.13.0")
    session.run(
        "pytest",
        "tests/parity",
        *session.posargs,
        env={"MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1"},
    )


@nox.session(default=False)
def examples(session: nox.Session) -> None:
    """Run every gallery example as a plain script (headless), with its run time."""
    install(session, extras="[plot,fast]")
    env = {"MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1"}
    failed = []
    for script in sorted(Path("examples").rglob("plot_*.py")):
        start = time.perf_counter()
        try:
            session.run("python", str(script), env=env, silent=True)
        except nox.command.CommandFailed:
            failed.append(script.name)
        session.log(f"{script.name}: {time.perf_counter() - start:.1f} s")
    if failed:
        session.error(f"{len(failed)} example(s) failed: {', '.join(failed)}")


@nox.session
def docs(session: nox.Session) -> None:
    """Build the site into docs/_build/html, running every tutorial page and gallery example.

    Any warning fails the build (-W), and so does any broken cross-reference (-n), failing
    notebook cell or failing example. No -j: notebook execution and its cache are not safe in
    parallel. Extra arguments go to sphinx-build (``nox -s docs -- -E`` rebuilds everything).
    """
    install(session, "docs", extras="[plot,fast]")
    start = time.perf_counter()
    # Two builds writing docs/_build at once would corrupt it: the second one waits.
    Path("docs/_build").mkdir(parents=True, exist_ok=True)
    with open("docs/_build/.lock", "w") as lock:
        if os.name == "posix":
            import fcntl

            fcntl.flock(lock, fcntl.LOCK_EX)
        session.run(
            *("sphinx-build", "-W", "-n", "-T", "-b", "html", "docs", "docs/_build/html"),
            *session.posargs,
            env={"MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1"},
        )
    session.log(f"Site built in {time.perf_counter() - start:.0f} s: docs/_build/html/index.html")


# Where the site's build puts each page's notebook download (sa_docs.notebooks).
NOTEBOOKS = Path("docs/_build/html/_sources")


def _hidden(path: Path) -> bool:
    """Whether ``path`` is in a hidden folder, such as Jupyter's .ipynb_checkpoints."""
    return any(part.startswith(".") for part in path.parts)


@nox.session(default=False, reuse_venv=False)
def notebooks(session: nox.Session) -> None:
    """Run every notebook the site offers for download, as a reader would (after ``docs``).

    A fresh environment holds what a reader installs and nothing else: the package, not
    editable, with its ``plot`` extra, and a Jupyter kernel (nbclient, ipykernel). Each
    notebook is copied into a temporary folder outside the repository and run there from top to
    bottom. The session fails, naming the pages, if a notebook fails or still holds what only
    the site's build understands (a raw glue role, a MyST directive fence, a role, an import of
    myst_nb without its fallback). ``nox -s notebooks -- 03 10`` runs the pages whose names
    contain one of the arguments.
    """
    found = sorted(p.resolve() for p in NOTEBOOKS.rglob("*.ipynb") if not _hidden(p))
    found = [p for p in found if not session.posargs or any(a in p.name for a in session.posargs)]
    if not found:
        session.error(f"no notebooks in {NOTEBOOKS}: build the site first (nox -s docs)")
    # The site's own check, from the module that writes the notebooks (it needs no Sphinx).
    spec = importlib.util.spec_from_file_location("notebooks", "docs/_ext/sa_docs/notebooks.py")
    assert spec is not None
    assert spec.loader is not None
    converter = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = converter
    spec.loader.exec_module(converter)

    session.install(".[plot]", "nbclient", "ipykernel")
    src = Path("src").resolve()
    failed = []
    with tempfile.TemporaryDirectory(prefix="simple-attention-notebooks-") as folder:
        for notebook in found:
            shutil.copy2(notebook, folder)
        with session.chdir(folder):
            # The library must come from the environment, not from the repository's src/.
            session.run(
                "python",
                "-c",
                "import pathlib, sys, simple_attention as sa\n"
                "if pathlib.Path(sa.__file__).is_relative_to(sys.argv[1]):\n"
                "    sys.exit(f'simple_attention came from the repository: {sa.__file__}')",
                str(src),
                silent=True,
            )
            for notebook in found:
                problems = converter.leftover_myst(json.loads(notebook.read_text("utf-8")))
                for problem in problems:
                    session.warn(f"{notebook.name}: {problem}")
                start = time.perf_counter()
                try:
                    # A long timeout per cell: pages 11 and 12 train models for a minute or two.
                    session.run(
                        *("jupyter-execute", "--timeout=900", notebook.name),
                        # One BLAS thread, as in the docs build: on a small shared machine more
                        # threads slow the pages of many small products several times over.
                        env={"OMP_NUM_THREADS": "1"},
                        silent=True,
                    )
                except nox.command.CommandFailed:
                    problems = [*problems, "failed to run"]
                session.log(f"{notebook.name}: {time.perf_counter() - start:.0f} s")
                if problems:
                    failed.append(notebook.stem)
    if failed:
        session.error(f"{len(failed)} notebook(s) failed: {', '.join(failed)}")


@nox.session(default=False)
def jupyter(session: nox.Session) -> None:
    """Open the tutorial's notebooks in JupyterLab, with the library and its figures.

    With no argument it opens a copy of the built site's notebooks, in docs/_build/notebooks
    (run ``nox -s docs`` first; a notebook already copied there, perhaps changed, is left as it
    is). ``nox -s jupyter -- PATH`` opens one notebook, e.g. one downloaded from a page's
    download menu, or a folder of them. Options after the path go to ``jupyter lab``.
    """
    install(session, extras="[plot]")
    session.install("jupyterlab")
    paths = [arg for arg in session.posargs if not arg.startswith("-")]
    options = [arg for arg in session.posargs if arg.startswith("-")]  # for jupyter lab
    if paths:
        target = Path(paths[0]).expanduser().resolve()
    else:
        # A copy, so that what the reader saves never changes the site's downloads.
        target = Path("docs/_build/notebooks").resolve()
        built = [p for p in (NOTEBOOKS / "tutorial").glob("*.ipynb") if not _hidden(p)]
        if not built:
            session.error(f"no notebooks in {NOTEBOOKS}: build the site first (nox -s docs)")
        target.mkdir(parents=True, exist_ok=True)
        for notebook in built:
            if not (target / notebook.name).exists():
                shutil.copy2(notebook, target)
    if not target.exists():
        session.error(f"{target} does not exist")
    # JupyterLab can only open files below the folder it starts in.
    folder = target if target.is_dir() else target.parent
    with session.chdir(folder):
        session.run("jupyter", "lab", *([] if target.is_dir() else [target.name]), *options)


@nox.session(default=False)
def site(session: nox.Session) -> None:
    """Open every page of the built site in headless Chromium and check it (after ``docs``).

    Extra arguments go to docs/check_site.py, e.g. ``nox -s site -- --screenshots shots``.
    """
    session.install(*nox.project.dependency_groups(PYPROJECT, "site"))
    session.run("python", "docs/check_site.py", *session.posargs)


@nox.session(default=False)
def bench(session: nox.Session) -> None:
    """Benchmarks: same-run speed ratios and peak memory (not run by default).

    Runs benchmarks/bench_attention.py (attention kernels and layers), then
    benchmarks/bench_gpt.py (TinyGPT: a training step, generation with and without the
    key-value cache, its memory); both write benchmarks/results/latest.json, which the docs
    read, the second under its key ``"gpt"``. ``nox -s bench -- --only gpt`` (or
    ``--only attention``) runs one of the two. ``nox -s bench -- --quick`` is a smoke test on
    small sizes and writes nothing. PyTorch joins the comparisons only when asked, with
    ``nox -s bench -- --torch`` or ``BENCH_TORCH=1``: that installs the CPU build of
    ``torch==2.13.0``. OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE are unset for this command alone,
    as they slow a current NumPy; the results record which BLAS kernel ran.
    """
    install(session)
    session.install("threadpoolctl")
    args = list(session.posargs)
    scripts = {"attention": "benchmarks/bench_attention.py", "gpt": "benchmarks/bench_gpt.py"}
    if "--only" in args:
        at = args.index("--only")
        only = args[at + 1] if at + 1 < len(args) else ""
        if only not in scripts:
            session.error(f"--only takes one of {', '.join(scripts)}, got {only!r}")
        del args[at : at + 2]
        scripts = {only: scripts[only]}
    if os.environ.get("BENCH_TORCH") == "1" and "--torch" not in args:
        args.append("--torch")
    if "--torch" in args:
        session.install("torch==2.13.0")
    else:
        session.log("PyTorch comparison skipped: pass --torch or set BENCH_TORCH=1 to include it")
        args.append("--no-torch")
    for script in scripts.values():
        session.run(
            "python",
            script,
            *args,
            env={"OPENBLAS_CORETYPE": None, "OPENBLAS_L2_SIZE": None, "MPLBACKEND": "Agg"},
        )


@nox.session
def lint(session: nox.Session) -> None:
    """ruff (lint and format check) and mypy on the library."""
    install(session, "lint")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run("mypy")


if __name__ == "__main__":
    nox.main()
