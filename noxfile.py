"""Developer tasks. Run ``nox -s tests`` or ``nox -s docs`` (``nox -l`` lists them all).

Each session installs what it needs into its own virtual environment, from ``pyproject.toml``:
the package itself (editable) plus one of its dependency groups.
"""

from __future__ import annotations

import time
from pathlib import Path

import nox

nox.options.reuse_venv = "yes"
nox.options.sessions = ["lint", "tests", "docs"]

PYPROJECT = nox.project.load_toml("pyproject.toml")


def install(session: nox.Session, *groups: str, extras: str = "") -> None:
    """Install the package (editable, with ``extras``) and the named dependency groups."""
    requirements = [r for g in groups for r in nox.project.dependency_groups(PYPROJECT, g)]
    session.install("-e", f".{extras}", *requirements)


@nox.session
def tests(session: nox.Session) -> None:
    """Unit tests, property tests and the docstring examples (doctests)."""
    install(session, "test")
    session.run("pytest", *session.posargs, env={"MPLBACKEND": "Agg"})


@nox.session
def examples(session: nox.Session) -> None:
    """Run every gallery example as a plain script (headless), with its run time."""
    install(session, extras="[plot]")
    env = {"MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1"}
    failed = []
    for script in sorted(Path("examples").glob("plot_*.py")):
        start = time.perf_counter()
        try:
            session.run("python", str(script), env=env, silent=True)
        except nox.command.CommandFailed:
            failed.append(script.name)
        session.log(f"{script.name}: {time.perf_counter() - start:.1f} s")
    if failed:
        session.error(f"{len(failed)} example(s) failed: {', '.join(failed)}")


@nox.session
def lint(session: nox.Session) -> None:
    """ruff (lint and format check) and mypy on the library."""
    install(session, "lint")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run("mypy")
