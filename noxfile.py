"""Developer sessions: nox -s tests | lint | typecheck | demo."""

from __future__ import annotations

import nox

nox.options.default_venv_backend = "venv"
nox.options.reuse_existing_virtualenvs = True
nox.options.sessions = ["lint", "typecheck", "tests"]

PYPROJECT = nox.project.load_toml("pyproject.toml")


def install(session: nox.Session, *groups: str) -> None:
    requirements = [r for group in groups for r in nox.project.dependency_groups(PYPROJECT, group)]
    session.install("-e", ".", *requirements)


@nox.session
def tests(session: nox.Session) -> None:
    """The whole test suite; -b plus filterwarnings=error turns bytes/str mix-ups into errors."""
    install(session, "test")
    session.run("python", "-b", "-m", "pytest", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    install(session, "lint")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def typecheck(session: nox.Session) -> None:
    install(session, "typecheck")
    session.run("mypy", "--strict", "src")


@nox.session
def demo(session: nox.Session) -> None:
    """The quick-start demo (``txzpub demo``): a publisher and three kinds of subscriber."""
    install(session)
    session.run("txzpub", "demo", *session.posargs)


@nox.session
def bench(session: nox.Session) -> None:
    """The benchmark suite; arguments after -- go to bench/run.py (--quick, --json)."""
    session.install(".", "txzmq==1.0.0")
    session.run("python", "bench/run.py", *session.posargs)
