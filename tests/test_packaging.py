"""
The release metadata agrees with itself, without building anything.

LICENSE is the MIT licence that pyproject.toml declares; the classifiers name
every Python version that ``requires-python`` admits (up to the newest one the
project tests); towncrier is configured and every news fragment has a name it
reads; CHANGELOG.md and ``txzpub.__version__`` tell one story. ``nox -s dist``
builds the sdist and wheel and checks what they hold.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

import txzpub

ROOT = Path(__file__).resolve().parent.parent
FRAGMENTS = ROOT / "changelog.d"

#: The newest Python the project is tested on; classifiers stop here.
NEWEST_PYTHON = (3, 13)

#: The fragment types the changelog must offer at least.
REQUIRED_TYPES = {"feature", "bugfix", "removal", "doc", "misc"}

#: Files in changelog.d/ that are not news fragments.
NOT_FRAGMENTS = {"template.md", "template.md.j2", ".gitignore", "README.md"}

#: CHANGELOG.md's section heading for a release, as title_format writes it.
SECTION = re.compile(r"^## (\d+(?:\.\d+)*) \((\d{4}-\d{2}-\d{2})\)$", re.MULTILINE)


def versionTuple(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


@pytest.fixture(scope="module")
def pyproject() -> dict[str, Any]:
    tomllib = pytest.importorskip("tomllib")  # Python >= 3.11
    loaded: dict[str, Any] = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))
    return loaded


@pytest.fixture(scope="module")
def towncrier(pyproject: dict[str, Any]) -> dict[str, Any]:
    assert "towncrier" in pyproject["tool"], "pyproject.toml has no [tool.towncrier]"
    config: dict[str, Any] = pyproject["tool"]["towncrier"]
    return config


def fragmentTypes(towncrier: dict[str, Any]) -> set[str]:
    return {kind["directory"] for kind in towncrier.get("type", [])} | set(
        towncrier.get("fragment", {})
    )


def fragments() -> list[Path]:
    return sorted(p for p in FRAGMENTS.iterdir() if p.name not in NOT_FRAGMENTS)


# -- the licence ---------------------------------------------------------------------


def test_licenseIsTheMitLicensePyprojectDeclares(pyproject: dict[str, Any]) -> None:
    project = pyproject["project"]
    assert project["license"] == "MIT", "an SPDX expression (PEP 639), not a table"
    assert project["license-files"] == ["LICENSE"]

    text = (ROOT / "LICENSE").read_text("utf-8")
    assert text.startswith("MIT License\n")
    authors = [author["name"] for author in project["authors"]]
    assert f"Copyright (c) 2026 {authors[0]}\n" in text
    # The MIT licence's two operative paragraphs, as SPDX's text has them.
    assert "Permission is hereby granted, free of charge, to any person obtaining a copy" in text
    assert "The above copyright notice and this permission notice shall be included" in text
    assert 'THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND' in text


def test_noLicenseClassifierBesideTheLicenseExpression(pyproject: dict[str, Any]) -> None:
    """PEP 639 deprecates them; PyPI refuses an upload carrying both."""
    licence = [c for c in pyproject["project"]["classifiers"] if c.startswith("License ::")]
    assert licence == []


# -- the classifiers -----------------------------------------------------------------


def allowedPythons(requiresPython: str) -> list[tuple[int, int]]:
    """The 3.x versions up to NEWEST_PYTHON that ``>=3.A[, <3.B]`` admits."""
    match = re.fullmatch(r">=\s*3\.(\d+)(?:\s*,\s*<\s*3\.(\d+))?", requiresPython.strip())
    assert match, f"requires-python {requiresPython!r}: teach allowedPythons() this form"
    low = int(match.group(1))
    high = int(match.group(2)) if match.group(2) else NEWEST_PYTHON[1] + 1
    return [(3, minor) for minor in range(low, min(high, NEWEST_PYTHON[1] + 1))]


def test_allowedPythonsReadsRequiresPython() -> None:
    assert allowedPythons(">=3.10") == [(3, 10), (3, 11), (3, 12), (3, 13)]
    assert allowedPythons(">= 3.11, <3.13") == [(3, 11), (3, 12)]


def test_classifiersNameEveryAllowedPython(pyproject: dict[str, Any]) -> None:
    project = pyproject["project"]
    named = {
        tuple(int(part) for part in c.rpartition(" :: ")[2].split("."))
        for c in project["classifiers"]
        if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", c)
    }
    assert named == set(allowedPythons(project["requires-python"]))


def test_classifiers(pyproject: dict[str, Any]) -> None:
    classifiers = pyproject["project"]["classifiers"]
    assert len(classifiers) == len(set(classifiers))
    assert len([c for c in classifiers if c.startswith("Development Status ::")]) == 1
    for expected in (
        "Framework :: Twisted",
        "Intended Audience :: Developers",
        "Operating System :: POSIX",
        "Typing :: Typed",
    ):
        assert expected in classifiers
    # Typing :: Typed is a promise the package keeps: it ships its marker.
    assert (ROOT / "src" / "txzpub" / "py.typed").is_file()


# -- the changelog -------------------------------------------------------------------


def test_towncrierIsConfigured(towncrier: dict[str, Any]) -> None:
    assert towncrier["directory"] == "changelog.d"
    assert towncrier["filename"] == "CHANGELOG.md"
    assert "{issue}" in towncrier["issue_format"]
    assert "{version}" in towncrier["title_format"]
    assert fragmentTypes(towncrier) >= REQUIRED_TYPES
    start = towncrier["start_string"]
    assert (ROOT / "CHANGELOG.md").read_text("utf-8").count(start) == 1, (
        "CHANGELOG.md needs towncrier's start marker exactly once"
    )


def test_fragmentsHaveNamesTowncrierReads(towncrier: dict[str, Any]) -> None:
    kinds = "|".join(map(re.escape, sorted(fragmentTypes(towncrier))))
    name = re.compile(rf"(\d+)\.({kinds})(?:\.\d+)?\.md")
    found = fragments()
    assert found, "no news fragments: see test_changelogAgreesWithTheVersion"
    for fragment in found:
        assert name.fullmatch(fragment.name), (
            f"changelog.d/{fragment.name}: name it <issue>.<type>.md, type one of {kinds}"
        )
        text = fragment.read_text("utf-8")
        assert text.strip(), f"changelog.d/{fragment.name} is empty"
        assert text.endswith("\n"), f"changelog.d/{fragment.name}: end it with a newline"
        assert not text.endswith("\n\n"), f"changelog.d/{fragment.name}: a blank last line"


def test_changelogAgreesWithTheVersion() -> None:
    """
    The current version is either released or pending, never both nor neither.

    Released: CHANGELOG.md has its section and no fragment waits (a new fragment
    after a release needs the next version in _version.py first). Pending: no
    section yet, and fragments wait for it. No section names a later version.
    """
    text = (ROOT / "CHANGELOG.md").read_text("utf-8")
    sections = [match.group(1) for match in SECTION.finditer(text)]
    current = txzpub.__version__
    assert len(sections) == len(set(sections)), f"a version twice in CHANGELOG.md: {sections}"
    assert sections == sorted(sections, key=versionTuple, reverse=True), "newest first"
    later = [v for v in sections if versionTuple(v) > versionTuple(current)]
    assert not later, f"CHANGELOG.md has {later}, after txzpub {current}"

    pending = [fragment.name for fragment in fragments()]
    if current in sections:
        assert not pending, (
            f"{current} is released, yet {pending} wait: "
            "set the next version in src/txzpub/_version.py"
        )
    else:
        assert pending, f"{current} has no CHANGELOG.md section and no news fragments"


def test_changelogSectionHeadingsMatchTheTitleFormat(towncrier: dict[str, Any]) -> None:
    """SECTION reads what towncrier writes."""
    title = towncrier["title_format"].format(version="1.2.3", project_date="2026-01-02")
    assert SECTION.fullmatch(title)
