"""
Every Python code block of the README and of docs/ runs, against the library.

The rules, for whoever writes a page:

- Each ```` ```python ```` block of a page runs, in the order of the page, in one
  namespace per page (as a reader who pastes them one after the other would),
  on the real reactor under pytest-twisted, in a fresh temporary directory.
  Other fences (``sh``, ``console``, ``text``, MyST directives) are not run.
- A top-level ``yield d`` (what a reader writes inside an ``@inlineCallbacks``
  function) and a top-level ``await d`` are awaited, under a deadline.
- ``__name__`` is not ``"__main__"``, so a whole script's
  ``if __name__ == "__main__": react(main)`` only defines ``main``: run it (and
  check anything else) in an *invisible block*, an HTML comment that GitHub and
  Sphinx do not show, run in turn with the visible ones::

      <!-- invisible-code-block: python
      yield main(reactor)
      -->

  Invisible blocks also set up what a fragment assumes (keys on disk, a
  second subscriber), so that the visible text stays short.
- Every ``tcp://127.0.0.1:PORT`` in a page's code stands for a free port: each
  PORT is replaced by one the system picked for this run, the same one for the
  whole page, so pages never collide with each other or with anything else.
- After the page, every ZmqFactory left in its namespace is shut down: loops the
  page started must end quietly then (the idiom the pages teach), and nothing may
  be logged as an error, an "Unhandled error in Deferred" above all.

Nothing is skipped: a block that cannot run as written is a bug in the page.
"""

from __future__ import annotations

import ast
import gc
import re
import socket
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted
from twisted.internet.defer import Deferred
from twisted.logger import formatEvent

import txzpub
import txzpub.testing
from txzpub import ZmqFactory

from .helpers import bounded

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PAGES = sorted(
    [ROOT / "README.md"]
    + [path for path in DOCS.rglob("*.md") if "_build" not in path.relative_to(DOCS).parts]
)

#: A fenced block (```lang ... ```), or an invisible one (<!-- invisible-code-block: python ... -->).
BLOCK = re.compile(
    r"^```(?P<lang>[^\n`]*)\n(?P<code>.*?)^```[ \t]*$"
    r"|^<!-- invisible-code-block: python\n(?P<invisible>.*?)^-->[ \t]*$",
    re.MULTILINE | re.DOTALL,
)
LOOPBACK_PORT = re.compile(r"tcp://127\.0\.0\.1:(\d+)")

#: Seconds one block may take to finish what it awaits.
DEADLINE = 20.0


def pageName(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def pythonBlocks(path: Path) -> list[tuple[int, str]]:
    """(first line number, code) of each Python block of *path*, invisible ones too."""
    text = path.read_text("utf-8")
    blocks = []
    for match in BLOCK.finditer(text):
        if match["invisible"] is not None:
            code, start = match["invisible"], match.start("invisible")
        elif match["lang"].strip() == "python":
            code, start = match["code"], match.start("code")
        else:
            continue
        blocks.append((text.count("\n", 0, start) + 1, code))
    return blocks


def freePort() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class AwaitTopLevelYields(ast.NodeTransformer):
    """``yield d`` outside any function becomes ``await d``; functions are left alone."""

    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.AST:
        return node

    def visit_AsyncFunctionDef(self, node: ast.AsyncFunctionDef) -> ast.AST:
        return node

    def visit_Lambda(self, node: ast.Lambda) -> ast.AST:
        return node

    def visit_ClassDef(self, node: ast.ClassDef) -> ast.AST:
        return node

    def visit_Yield(self, node: ast.Yield) -> ast.AST:
        value = self.visit(node.value) if node.value is not None else ast.Constant(None)
        return ast.copy_location(ast.Await(value), node)


def compileBlock(code: str, filename: str, firstLine: int) -> Any:
    tree = AwaitTopLevelYields().visit(ast.parse(code, filename))
    ast.fix_missing_locations(tree)
    ast.increment_lineno(tree, firstLine - 1)
    return compile(tree, filename, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)


def test_pagesFound() -> None:
    """The extractor finds the pages and their blocks (an empty list would pass vacuously)."""
    assert len(PAGES) >= 15, PAGES
    assert sum(len(pythonBlocks(page)) for page in PAGES) >= 30


def test_blockPatternSeesEveryFence() -> None:
    """Every fence is either a block BLOCK matched or inside one: none slips through."""
    for page in PAGES:
        text = page.read_text("utf-8")
        fences = len(re.findall(r"^```", text, re.MULTILINE))
        matched = sum(1 for match in BLOCK.finditer(text) if match["invisible"] is None)
        assert fences == 2 * matched, f"{pageName(page)}: an unclosed or indented fence"


@pytest.mark.parametrize("page", [page for page in PAGES if pythonBlocks(page)], ids=pageName)
@pytest_twisted.ensureDeferred
async def test_codeBlocksRun(
    page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, errors: list[dict[str, Any]]
) -> None:
    monkeypatch.chdir(tmp_path)
    ports: dict[str, int] = {}

    def onFreePort(match: re.Match[str]) -> str:
        return f"tcp://127.0.0.1:{ports.setdefault(match[1], freePort())}"

    namespace: dict[str, Any] = {"__name__": "docs_page"}
    try:
        for firstLine, code in pythonBlocks(page):
            where = f"{pageName(page)}:{firstLine}"
            compiled = compileBlock(LOOPBACK_PORT.sub(onFreePort, code), str(page), firstLine)
            running = eval(compiled, namespace)  # noqa: S307 - the documentation's own code
            if running is not None:  # the block awaits: run it on the reactor
                await bounded(Deferred.fromCoroutine(running), where, DEADLINE)
    finally:
        for value in list(namespace.values()):
            if isinstance(value, ZmqFactory):
                value.shutdown()
    # Let the loops the page started see the shutdown, then look for unhandled failures.
    await bounded(deferLater(), "a reactor turn")
    gc.collect()
    assert [formatEvent(event) or repr(event.get("log_failure")) for event in errors] == []


def deferLater() -> Deferred[None]:
    from twisted.internet import reactor
    from twisted.internet.task import deferLater

    return deferLater(reactor, 0.01, lambda: None)


# -- the API reference covers the public surface ----------------------------------

API = DOCS / "reference" / "api.rst"
ENTRY = re.compile(
    r"^\.\. (?:auto(?:class|function|exception|data)|py:data):: (\S+)", re.MULTILINE
)


def documentedNames() -> dict[str, list[str]]:
    """Names each ``.. module::`` section of the API reference documents."""
    found: dict[str, list[str]] = {}
    module = ""
    for line in API.read_text("utf-8").splitlines():
        if line.startswith(".. module:: "):
            module = line.split("::", 1)[1].strip()
        elif entry := ENTRY.match(line):
            found.setdefault(module, []).append(entry[1])
    return found


def test_apiReferenceDocumentsEveryPublicName() -> None:
    """One explicit entry per name of ``txzpub.__all__``, under ``txzpub.``."""
    assert sorted(documentedNames()["txzpub"]) == sorted(txzpub.__all__)


def test_apiReferenceDocumentsTheTestHelpers() -> None:
    """``txzpub.testing`` is documented whole: autodoc follows its ``__all__``."""
    text = API.read_text("utf-8")
    assert re.search(r"^\.\. automodule:: txzpub\.testing\n   :members:$", text, re.MULTILINE)
    assert txzpub.testing.__all__


# -- the README is a front page whose links work -----------------------------------

README = ROOT / "README.md"
QUICK_START = (
    "python3 -m venv .venv && .venv/bin/pip install -q nox && .venv/bin/nox -s demo\n"
    "python3 -m venv .venv && .venv/bin/pip install -q nox && .venv/bin/nox -s tests\n"
)


def test_readmeKeepsTheQuickStartCommands() -> None:
    assert "## Quick start\n\nFrom a fresh clone" in README.read_text("utf-8")
    assert f"```sh\n{QUICK_START}```" in README.read_text("utf-8")


@pytest.mark.parametrize("page", PAGES, ids=pageName)
def test_relativeLinksResolve(page: Path) -> None:
    """Links to files (GitHub follows them) point at files that exist."""
    text = page.read_text("utf-8")
    for target in re.findall(r"\]\((?!https?://|#|mailto:)([^)\s#]+)(?:#[^)]*)?\)", text):
        assert (page.parent / target).exists(), f"{pageName(page)} links to missing {target}"
