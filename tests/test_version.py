"""
One version: ``txzpub.__version__``, defined once in ``_version.py``.

pyproject.toml reads it from there; no ``.. versionadded::`` in the code names
a later one; the README, the docs and the changelog fragments name no other txzpub
release. Versions are compared as tuples of ints (no packaging dependency).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import txzpub
from txzpub import _version

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "src" / "txzpub"

#: ``.. versionadded:: 0.1.0`` in a docstring, or in a ``#:`` comment inside double backquotes.
VERSION_DIRECTIVE = re.compile(r"\.\. version(?:added|changed)::[ \t]*([^\s`]*)")

#: A three-part version number, not part of a longer dotted number (an IPv4 address).
DOTTED = re.compile(r"(?<![\d.])\d+\.\d+\.\d+(?!\.?\d)")

#: txzpub named with a version: "txzpub 0.1.0", "txzpub v0.2".
NAMED = re.compile(r"\btxzpub[ \t]+v?(\d+(?:\.\d+)+)", re.IGNORECASE)

#: Other software, whose versions a text may name right after its name
#: ("txZMQ 1.0.0", "txzmq==1.0.0", "libzmq 4.3.5").
OTHER_SOFTWARE = re.compile(
    r"(?:txzmq|libzmq|pyzmq|czmq|twisted|python|hatchling)[ \t]*(?:[=<>~!]=|[<>])?[ \t]*v?\Z",
    re.IGNORECASE,
)


def versionTuple(text: str) -> tuple[int, ...]:
    """``"0.1.0"`` -> ``(0, 1, 0)``; anything else fails the test with the text."""
    if not re.fullmatch(r"\d+(?:\.\d+)*", text):
        pytest.fail(f"{text!r} is not a version number (digits separated by dots)")
    return tuple(int(part) for part in text.split("."))


CURRENT = versionTuple(txzpub.__version__)


def releaseNumbers(text: str) -> set[str]:
    """The txzpub versions *text* names: three-part numbers not preceded by another name."""
    found = {match.group(1) for match in NAMED.finditer(text)}
    for match in DOTTED.finditer(text):
        before = text[max(0, match.start() - 40) : match.start()]
        if not OTHER_SOFTWARE.search(before):
            found.add(match.group())
    return found


def test_versionIsDefinedOnceInVersionModule() -> None:
    assert txzpub.__version__ is _version.__version__
    assert "__version__" in txzpub.__all__
    assert CURRENT >= (0, 1, 0)


def test_pyprojectTakesTheVersionFromVersionModule() -> None:
    tomllib = pytest.importorskip("tomllib")  # Python >= 3.11
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))

    assert "version" not in pyproject["project"], "the version is dynamic, not written here"
    assert "version" in pyproject["project"]["dynamic"]
    path = pyproject["tool"]["hatch"]["version"]["path"]
    declared, imported = (ROOT / path).resolve(), Path(_version.__file__).resolve()
    if imported.is_relative_to(ROOT):
        assert declared == imported
    else:  # the installed wheel, tested from its unpacked sdist (nox -s dist): a copy
        assert declared.read_bytes() == imported.read_bytes()
    # What hatch reads from that file: the one assignment to __version__.
    assignments = re.findall(
        r"^__version__\s*=\s*[\"']([^\"']+)[\"']", (ROOT / path).read_text("utf-8"), re.MULTILINE
    )
    assert assignments == [txzpub.__version__]


def versionDirectives() -> list[tuple[str, int, str]]:
    found = []
    for path in sorted(SOURCE.rglob("*.py")):
        text = path.read_text("utf-8")
        for match in VERSION_DIRECTIVE.finditer(text):
            line = text.count("\n", 0, match.start()) + 1
            found.append((path.relative_to(ROOT).as_posix(), line, match.group(1)))
    return found


def test_versionDirectivesFound() -> None:
    """The pattern works: the public classes carry ``.. versionadded::``."""
    assert len(versionDirectives()) >= 10


@pytest.mark.parametrize(
    ("where", "line", "version"), versionDirectives(), ids=lambda value: str(value)
)
def test_versionDirectiveIsNotLaterThanThePackage(where: str, line: int, version: str) -> None:
    assert versionTuple(version) <= CURRENT, (
        f"{where}:{line} says versionadded {version}, after txzpub {txzpub.__version__}"
    )


def test_releaseNumbersMatchTheRules() -> None:
    """The rules of releaseNumbers() itself, on examples."""
    assert releaseNumbers("txzpub 0.1.0 against txZMQ 1.0.0, libzmq 4.3.5") == {"0.1.0"}
    assert releaseNumbers("install txzmq==1.0.0 on 127.0.0.1 or 10.0.0.0/8") == set()
    assert releaseNumbers("new in txzpub 0.2; see 1.2.3") == {"0.2", "1.2.3"}
    assert releaseNumbers("1.5x txZMQ, 2.7 MiB, Python 3.10+") == set()


@pytest.mark.parametrize(
    "page",
    [
        "README.md",
        *sorted(
            path.relative_to(ROOT).as_posix()
            for path in (ROOT / "docs").rglob("*.md")
            if "_build" not in path.parts
        ),
    ],
)
def test_readmeAndDocsNameOnlyTheCurrentRelease(page: str) -> None:
    named = releaseNumbers((ROOT / page).read_text("utf-8"))
    assert named <= {txzpub.__version__}, page


@pytest.mark.parametrize(
    "fragment",
    sorted(path.name for path in (ROOT / "changelog.d").glob("*.md")),
)
def test_changelogFragmentNamesOnlyTheCurrentRelease(fragment: str) -> None:
    named = releaseNumbers((ROOT / "changelog.d" / fragment).read_text("utf-8"))
    assert named <= {txzpub.__version__}, fragment
