"""Sphinx configuration for txzpub's documentation: ``nox -s docs`` builds it."""

# ruff: noqa: INP001 - Sphinx runs this file by path; it is no package's module

from __future__ import annotations

from pathlib import Path
from typing import Any

import txzpub

HERE = Path(__file__).resolve().parent

project = "txzpub"
author = "The txzpub developers"
copyright = "The txzpub developers"  # noqa: A001 - the name Sphinx reads
release = txzpub.__version__
version = release

extensions = ["myst_parser", "sphinx.ext.autodoc"]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build"]
myst_heading_anchors = 3

html_theme = "furo"
html_title = f"txzpub {release}"
# _static/ holds only what bench/ draws (see BENCH_FIGURES), when it has drawn it.
html_static_path = ["_static"] if (HERE / "_static").is_dir() else []

# The API reference lists each public name explicitly (reference/api.rst), under
# ``txzpub.``, as users import it. Signatures stay readable; the types are in the
# source and in ``py.typed``.
autodoc_typehints = "none"
autodoc_member_order = "bysource"
autodoc_default_options = {
    "members": True,
    "undoc-members": True,
    "show-inheritance": True,
    # What a public class gets from txzpub's private bases is part of it (a PULL's
    # next(), say); what it gets from a public base is documented there, once.
    "inherited-members": (
        "ZmqConnection,Service,Enum,tuple,object,BaseException,Exception,OSError,"
        "TimeoutError,ValueError,RuntimeError,TypeError"
    ),
}

# -n: every cross-reference must resolve. Names from other projects (this build
# reaches no other project's inventory) are the ones left unresolved.
nitpicky = True
nitpick_ignore_regex = [
    (r"py:.*", r"(twisted|zmq|attrs|enum|builtins|typing|collections)\..*"),
    (r"py:class", r"(object|Exception|TimeoutError|ValueError|RuntimeError|TypeError)"),
    (r"py:class", r"(NamedTuple|IntEnum|Enum|str|bytes|int|float|tuple)"),
]

#: The benchmark figures, if they have been drawn (bench/ writes them to
#: _static/bench/). The performance page shows each one that exists, and says
#: so when none does: a build never refers to a missing image.
BENCH_FIGURES = sorted(p.name for p in (HERE / "_static" / "bench").glob("*.svg"))
FIGURES_MARKER = "<!-- bench-figures -->"


def benchFigures() -> str:
    if not BENCH_FIGURES:
        return "(The figures are drawn by the benchmark suite; this build has none.)"
    return "\n\n".join(
        f"![{name.removesuffix('.svg')}](/_static/bench/{name})" for name in BENCH_FIGURES
    )


def insertBenchFigures(app: Any, docname: str, source: list[str]) -> None:
    source[0] = source[0].replace(FIGURES_MARKER, benchFigures())


def isPrivate(cls: type) -> bool:
    return cls.__module__.startswith("txzpub._") or cls.__name__.startswith("_")


def publicBases(cls: type) -> list[type]:
    """*cls*'s bases, each private one replaced by its own public bases."""
    found: list[type] = []
    for base in cls.__bases__:
        for public in publicBases(base) if isPrivate(base) else [base]:
            if public not in found:
                found.append(public)
    return found


def showPublicBases(app: Any, name: str, obj: object, options: Any, bases: list[type]) -> None:
    if isinstance(obj, type):
        bases[:] = [base for base in publicBases(obj) if base is not object] or [object]


def setup(app: Any) -> None:
    app.connect("source-read", insertBenchFigures)
    app.connect("autodoc-process-bases", showPublicBases)
