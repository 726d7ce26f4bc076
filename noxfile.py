"""Developer sessions: nox -s tests | lint | typecheck | demo."""

from __future__ import annotations

import os
import pathlib

import nox
from packaging.requirements import Requirement

nox.options.default_venv_backend = "venv"
nox.options.reuse_existing_virtualenvs = True
nox.options.sessions = ["lint", "typecheck", "tests"]
# A session whose Python is not installed is skipped with a message, not failed, even under
# CI=true (where nox would otherwise fail it); and nox never tries to download a Python.
nox.options.error_on_missing_interpreters = False
nox.options.download_python = "never"

PYPROJECT = nox.project.load_toml("pyproject.toml")

PYTHONS = ["3.10", "3.11", "3.12", "3.13"]
# pytest-twisted's --reactor offers default (epoll on Linux) and asyncio; tests/conftest.py
# adds select and poll through TXZPUB_TEST_REACTOR.
REACTORS = ["default", "asyncio", "select", "poll"]
# The real-socket tier: every pattern end to end over real ZeroMQ sockets (inproc, ipc, tcp) on
# the reactor under test: txZMQ interop and txZMQ's own tests, faults, CURVE, the lossless
# modes, the socket monitor, the proxy, shutdown in flight. About a minute with its install;
# first, the check that the requested reactor is the one running.
SOCKET_TIER = [
    f"tests/test_{name}.py"
    for name in (
        "reactor",
        "pubsub",
        "pushpull",
        "reqrep",
        "routerdealer",
        "interop",
        "txzmq_suite",
        "lossless",
        "monitor",
        "patterns_faults",
        "patterns_interop",
        "proxy_patterns",
        "security",
        "sendqueue",
        "legacy",
        "connection",
        "service",
        "lastvalue",
        "idioms",
        "firsthour",
        "shutdown",
        "wire",
        "sequenced",
        "sequenced_hostile",
        "sequenced_lifecycle",
    )
]


def _pyenv_pythons_visible() -> None:
    """Let nox find every Python that pyenv has installed, not only its active one.

    nox finds pyenv's Pythons through pyenv's shims, which answer only for the active
    versions: PYENV_VERSION (unless already set) lists the active ones first, then the rest.
    """
    root = pathlib.Path(os.environ.get("PYENV_ROOT") or pathlib.Path.home() / ".pyenv")
    if "PYENV_VERSION" in os.environ or not (root / "versions").is_dir():
        return
    active = (root / "version").read_text().split() if (root / "version").is_file() else []
    installed = sorted(p.name for p in (root / "versions").iterdir() if (p / "bin").is_dir())
    os.environ["PYENV_ROOT"] = str(root)
    os.environ["PYENV_VERSION"] = ":".join(dict.fromkeys([*active, *installed]))


_pyenv_pythons_visible()


def install(session: nox.Session, *groups: str) -> None:
    requirements = [r for group in groups for r in nox.project.dependency_groups(PYPROJECT, group)]
    session.install("-e", ".", *requirements)


def run_pytest(session: nox.Session, *args: str, reactor: str = "default") -> None:
    """python -b: with filterwarnings=error, bytes/str mix-ups are errors."""
    env = {}
    if reactor in {"select", "poll"}:
        env["TXZPUB_TEST_REACTOR"] = reactor
        reactor = "default"
    session.run(
        "python", "-b", "-m", "pytest", f"--reactor={reactor}", *args, *session.posargs, env=env
    )


@nox.session
def tests(session: nox.Session) -> None:
    """The whole test suite, on nox's own Python; -- --reactor=asyncio to change the reactor."""
    install(session, "test")
    session.run("python", "-b", "-m", "pytest", *session.posargs)


@nox.session(python=PYTHONS)
@nox.parametrize("reactor", REACTORS)
def suite(session: nox.Session, reactor: str) -> None:
    """The whole test suite, for each Python and reactor (a few minutes each)."""
    install(session, "test")
    run_pytest(session, reactor=reactor)


@nox.session(python=PYTHONS)
@nox.parametrize("reactor", REACTORS)
def sockets(session: nox.Session, reactor: str) -> None:
    """The real-socket tier (SOCKET_TIER, about a minute), for each Python and reactor."""
    install(session, "test")
    run_pytest(session, *SOCKET_TIER, reactor=reactor)


def oldest_dependencies() -> list[str]:
    """pyproject.toml's dependencies pinned to their floors: twisted>=23.8 -> twisted==23.8."""
    pins = []
    for line in PYPROJECT["project"]["dependencies"]:
        requirement = Requirement(line)
        floors = [s.version for s in requirement.specifier if s.operator == ">="]
        if len(floors) != 1:
            msg = f"{line!r}: the oldest session needs one >= floor"
            raise ValueError(msg)
        extras = f"[{','.join(sorted(requirement.extras))}]" if requirement.extras else ""
        pins.append(f"{requirement.name}{extras}=={floors[0]}")
    return pins


# pyzmq 25.0.0 has wheels up to CPython 3.11 only (none for 3.12 or 3.13).
@nox.session(python=["3.10", "3.11"])
def oldest(session: nox.Session) -> None:
    """The real-socket tier on the oldest dependencies pyproject.toml allows.

    twisted, pyzmq and attrs exactly at their floors (the test tools at their newest);
    `nox -s oldest -- tests` runs the whole suite instead.
    """
    tools = nox.project.dependency_groups(PYPROJECT, "test")
    session.install("-e", ".", *tools, *oldest_dependencies())
    session.run("python", "-m", "pip", "list", "--format=freeze", silent=False)
    run_pytest(session, *SOCKET_TIER)


@nox.session
def lint(session: nox.Session) -> None:
    install(session, "lint")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def typecheck(session: nox.Session) -> None:
    install(session, "typecheck")
    # examples/legacy/ is txZMQ's untyped code, and repeats module names of examples/.
    session.run(
        "mypy",
        "--strict",
        "src",
        "examples",
        "tests/typed_program.py",
        "--exclude",
        "^examples/legacy/",
    )


@nox.session
def docs(session: nox.Session) -> None:
    """The documentation site, into docs/_build/html; any Sphinx warning is an error."""
    install(session, "docs")
    session.run(
        "sphinx-build",
        "-W",
        "--keep-going",
        "-n",
        "-b",
        "html",
        "docs",
        "docs/_build/html",
        *session.posargs,
    )


@nox.session
def demo(session: nox.Session) -> None:
    """The quick-start demo (``txzpub demo``): a publisher and three kinds of subscriber."""
    install(session)
    session.run("txzpub", "demo", *session.posargs)


@nox.session
def bench(session: nox.Session) -> None:
    """The benchmark suite; arguments after -- go to bench/run.py (--quick, --json, --plot DIR)."""
    session.install(".", *nox.project.dependency_groups(PYPROJECT, "bench"))
    session.run("python", "bench/run.py", *session.posargs)


@nox.session
def dist(session: nox.Session) -> None:  # noqa: PLR0915 - one checklist, read top to bottom
    """Build the sdist and wheel into dist/, check them, test the wheel with the sdist's tests.

    python -m build; twine check --strict; the wheel holds LICENSE, py.typed and no tests;
    the changelog's next section (towncrier --draft) builds; then the tests unpacked from the
    sdist run against the installed wheel, not src/. Arguments after -- go to that pytest run:
    the whole suite takes minutes; CI's quick subset is
    nox -s dist -- -k "layers or public_api or version or wire or packaging"
    """
    # Imports stay local so that this session is one self-contained block of the file.
    import re  # noqa: PLC0415
    import shutil  # noqa: PLC0415
    import tarfile  # noqa: PLC0415
    import zipfile  # noqa: PLC0415
    from pathlib import Path  # noqa: PLC0415

    def require(condition: object, problem: str) -> None:
        if not condition:
            session.error(problem)

    version_file = Path("src/txzpub/_version.py").read_text("utf-8")
    match = re.search(r"^__version__\s*=\s*[\"']([^\"']+)[\"']", version_file, re.MULTILINE)
    require(match, "no __version__ in src/txzpub/_version.py")
    version = match.group(1)

    session.install(*nox.project.dependency_groups(PYPROJECT, "release"))
    out = Path("dist").resolve()
    shutil.rmtree(out, ignore_errors=True)
    session.run("python", "-m", "build", "--outdir", str(out))
    wheel = out / f"txzpub-{version}-py3-none-any.whl"
    sdist = out / f"txzpub-{version}.tar.gz"
    built = sorted(path.name for path in out.iterdir())
    require(built == sorted([wheel.name, sdist.name]), f"dist/ should hold {version}: {built}")
    session.run("twine", "check", "--strict", str(sdist), str(wheel))

    license_text = Path("LICENSE").read_text("utf-8")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        info = f"txzpub-{version}.dist-info"
        metadata = archive.read(f"{info}/METADATA").decode("utf-8")
        shipped = f"{info}/licenses/LICENSE"
        require(shipped in names, f"the wheel has no {shipped}")
        require(archive.read(shipped).decode("utf-8") == license_text, "the wheel's LICENSE")
    require("txzpub/py.typed" in names, "the wheel has no txzpub/py.typed")
    strays = [n for n in names if not n.startswith(("txzpub/", f"{info}/"))]
    require(not strays, f"the wheel holds more than txzpub and its metadata: {strays}")
    tests = [n for n in names if re.search(r"(^|/)(tests?/|conftest\.py$|test_\w*\.py$)", n)]
    require(not tests, f"the wheel holds tests: {tests}")
    for field in ("License-Expression: MIT", "License-File: LICENSE", f"Version: {version}"):
        require(f"\n{field}\n" in metadata, f"the wheel's METADATA has no {field!r}")

    with tarfile.open(sdist) as archive:
        members = [member.name.partition("/")[2] for member in archive.getmembers()]
    for needed in ("LICENSE", "CHANGELOG.md", "README.md", "pyproject.toml", "tests/conftest.py"):
        require(needed in members, f"the sdist has no {needed}")
    for needed in ("src/txzpub/", "tests/programs/", "examples/", "changelog.d/"):
        require(any(m.startswith(needed) for m in members), f"the sdist has no {needed}")
    junk = [m for m in members if re.search(r"__pycache__|\.pyc$|_build/|^\.(?!gitignore$)", m)]
    require(not junk, f"the sdist holds build or cache files: {junk[:10]}")

    draft = session.run(
        "towncrier", "build", "--draft", "--version", version, silent=True, external=False
    )
    fragments = sorted(Path("changelog.d").glob("*.md"))
    require(f"## {version} (" in draft, f"towncrier's draft has no section for {version}")
    for fragment in fragments:
        issue = fragment.name.partition(".")[0]
        require(f"(#{issue})" in draft, f"towncrier's draft leaves out {fragment}")
    session.log(f"towncrier: the {version} section would hold {len(fragments)} fragments")

    # The sdist's tests, against the installed wheel: from the unpacked sdist, whose
    # src/ layout keeps `import txzpub` off its own sources.
    unpacked = Path(session.create_tmp()).resolve() / "sdist"
    shutil.rmtree(unpacked, ignore_errors=True)
    with tarfile.open(sdist) as archive:
        if hasattr(tarfile, "data_filter"):
            archive.extractall(unpacked, filter="data")
        else:  # Python < 3.10.12 / 3.11.4
            archive.extractall(unpacked)  # noqa: S202 - our own sdist, just built
    root = unpacked / f"txzpub-{version}"
    session.install(str(wheel), *nox.project.dependency_groups(PYPROJECT, "test"))
    session.install("--force-reinstall", "--no-deps", str(wheel))  # same version, new build
    with session.chdir(root):
        where = session.run(
            "python", "-c", "import txzpub; print(txzpub.__file__)", silent=True, external=False
        )
        imported = Path(where.strip().splitlines()[-1]).resolve()
        venv = Path(session.virtualenv.location).resolve()
        require(
            imported.is_relative_to(venv) and not imported.is_relative_to(root),
            f"import txzpub found {imported}, not the installed wheel in {venv}",
        )
        session.log(f"testing the wheel installed at {imported.parent}")
        session.run("python", "-b", "-m", "pytest", "-p", "no:cacheprovider", *session.posargs)
