"""Developer tasks. Run ``nox -s tests`` or ``nox -s docs`` (``nox -l`` lists them all).

Each session installs what it needs into its own virtual environment, from ``pyproject.toml``:
the package itself (editable) plus one of its dependency groups.
"""

from __future__ import annotations

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
def lint(session: nox.Session) -> None:
    """ruff (lint and format check) and mypy on the library."""
    install(session, "lint")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run("mypy")
