"""
The architecture, enforced: each layer imports only the layers below it.

Every module is placed explicitly: a new module fails ``test_everyModuleIsPlaced``
until it is added to LAYERS, so nothing lands in a layer by default.

L0 errors < L1 the sans-IO core < L2 Deferreds and settings < L3 reactor glue
< L4 connections < L5 txZMQ adapters < L6 the public package < L7 command line.

The command line and ``txzpub.testing`` use the public API, as users do: they
may import ``txzpub`` (and the command line its own modules) and touch no
private name, except the short allow-lists below.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src" / "txzpub"

LAYERS = {
    # L0: errors and the version, imported by everything.
    "txzpub._errors": 0,
    "txzpub._version": 0,
    # L1: the sans-IO core: stdlib, attrs and _errors only.
    "txzpub._core": 1,
    "txzpub._core._buffer": 1,
    "txzpub._core._checks": 1,
    "txzpub._core._construction": 1,
    "txzpub._core._curve": 1,
    "txzpub._core._envelope": 1,
    "txzpub._core._endpoint": 1,
    "txzpub._core._framing": 1,
    "txzpub._core._lastvalue": 1,
    "txzpub._core._lifecycle": 1,
    "txzpub._core._message": 1,
    "txzpub._core._replaybuffer": 1,
    "txzpub._core._replayprotocol": 1,
    "txzpub._core._routing": 1,
    "txzpub._core._stamp": 1,
    "txzpub._core._tracking": 1,
    "txzpub._core._xpub": 1,
    "txzpub._core._zap": 1,
    # L2: Deferreds (waiters, mailboxes and the queues built on them) and settings.
    "txzpub._waiters": 2,
    "txzpub._mailbox": 2,
    "txzpub._subscription": 2,
    "txzpub._events": 2,
    "txzpub._awareness": 2,
    "txzpub._requests": 2,
    "txzpub._liveness": 2,
    "txzpub._reactors": 2,
    "txzpub._sendqueue": 2,
    "txzpub._security": 2,
    # L3: the reactor glue: reading sockets on the reactor.
    "txzpub._reader": 3,
    "txzpub._monitor": 3,
    "txzpub._authenticator": 3,
    # L4: the connections users touch.
    "txzpub._factory": 4,
    "txzpub._connection": 4,
    "txzpub._peers": 4,
    "txzpub._sending": 4,
    "txzpub._listening": 4,
    "txzpub._replayserver": 4,
    "txzpub._sequencing": 4,
    "txzpub._replayclient": 4,
    "txzpub._recovery": 4,
    "txzpub._publisher": 4,
    "txzpub._subscriber": 4,
    "txzpub._receiver": 4,
    "txzpub._pushpull": 4,
    "txzpub._routerdealer": 4,
    "txzpub._reqrep": 4,
    # L5: txZMQ's callback API on top.
    "txzpub._legacy": 5,
    # L6: the public package, and what is written against it.
    "txzpub": 6,
    "txzpub._service": 6,
    "txzpub.testing": 6,
    # L7: the command line.
    "txzpub.__main__": 7,
    "txzpub._cli": 7,
    "txzpub._cli._bench": 7,
    "txzpub._cli._common": 7,
    "txzpub._cli._demo": 7,
    "txzpub._cli._keygen": 7,
    "txzpub._cli._logging": 7,
    "txzpub._cli._proxy": 7,
    "txzpub._cli._pub": 7,
    "txzpub._cli._pull": 7,
    "txzpub._cli._push": 7,
    "txzpub._cli._rep": 7,
    "txzpub._cli._req": 7,
    "txzpub._cli._render": 7,
    "txzpub._cli._runner": 7,
    "txzpub._cli._security": 7,
    "txzpub._cli._sub": 7,
}

CORE_ALLOWED_THIRD_PARTY = {"attrs"}

#: Private names the public-API-only modules may still use, each with its reason.
PRIVATE_ALLOWED = {
    # The probe subscription must be invisible to a txZMQ-style gotMessage.
    ("txzpub.testing", "_subscribeHidden"),
    # The memory connections coerce str to bytes by the one rule publish() uses.
    ("txzpub.testing", "txzpub._core._message"),
    # MemoryFactory's own bus, read by the memory connections in the same module.
    ("txzpub.testing", "_bus"),
    # The proxy runs libzmq's proxy on raw sockets, with txzpub's ZAP handler
    # and monitor; no connection class fits it.
    ("txzpub._cli._proxy", "txzpub._authenticator"),
    ("txzpub._cli._proxy", "txzpub._connection"),
    ("txzpub._cli._proxy", "txzpub._monitor"),
    # Key files and limits are checked with the library's own rules.
    ("txzpub._cli._security", "txzpub._connection"),
    ("txzpub._cli._security", "txzpub._core._curve"),
    ("txzpub._cli._keygen", "txzpub._core._curve"),
}

PUBLIC_ONLY = [m for m in LAYERS if m == "txzpub.testing" or m.startswith("txzpub._cli")]


def moduleName(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def pathOf(module: str) -> Path:
    relative = Path(*module.split(".")[1:])
    package = SRC / relative / "__init__.py"
    return package if package.exists() else (SRC / relative).with_suffix(".py")


def layerOf(imported: str) -> int:
    """The layer of an imported module (``from txzpub._core._x import y`` names a module)."""
    if imported in LAYERS:
        return LAYERS[imported]
    parent = imported.rpartition(".")[0]  # `from txzpub import _core` style imports
    return LAYERS[parent]


def importsOf(path: Path) -> set[str]:
    module = moduleName(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            found.add(target)
    return found


MODULES = sorted(SRC.rglob("*.py"))


def test_everyModuleIsPlaced() -> None:
    """No default layer: a module missing from LAYERS fails here, by name."""
    unplaced = sorted({moduleName(p) for p in MODULES} - set(LAYERS))
    assert unplaced == [], f"place these modules in LAYERS: {unplaced}"
    gone = sorted(m for m in LAYERS if not pathOf(m).exists())
    assert gone == [], f"LAYERS names modules that do not exist: {gone}"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: moduleName(p))
def test_importsFlowDownward(path: Path) -> None:
    module = moduleName(path)
    own = LAYERS[module]
    for imported in importsOf(path):
        if imported.split(".")[0] != "txzpub":
            continue
        if imported == "txzpub" and module == "txzpub":
            continue
        assert layerOf(imported) <= own, f"{module} (L{own}) imports {imported} (higher)"


@pytest.mark.parametrize(
    "path", sorted((SRC / "_core").rglob("*.py")), ids=lambda p: moduleName(p)
)
def test_coreIsSansIO(path: Path) -> None:
    for imported in importsOf(path):
        top = imported.split(".")[0]
        if top == "txzpub":
            assert imported.startswith("txzpub._core") or imported == "txzpub._errors", imported
            continue
        assert top not in {"twisted", "zmq", "zope"}, f"{moduleName(path)} imports {imported}"
        assert top in CORE_ALLOWED_THIRD_PARTY or top in sys.stdlib_module_names, (
            f"{moduleName(path)} imports {imported}"
        )


def privateUses(module: str) -> set[str]:
    """Private modules imported and private attributes read (``x._name``, x not self/cls)."""
    path = pathOf(module)
    found = {
        imported
        for imported in importsOf(path)
        if imported.startswith("txzpub.")
        and not imported.startswith("txzpub._cli")
        and imported != "txzpub.testing"
    }
    for node in ast.walk(ast.parse(path.read_text())):
        if (
            isinstance(node, ast.Attribute)
            and node.attr.startswith("_")
            and not node.attr.startswith("__")
            and not (isinstance(node.value, ast.Name) and node.value.id in {"self", "cls"})
        ):
            found.add(node.attr)
    return found


@pytest.mark.parametrize("module", PUBLIC_ONLY)
def test_commandLineAndTestingUseThePublicAPI(module: str) -> None:
    allowed = {name for owner, name in PRIVATE_ALLOWED if owner == module}
    assert privateUses(module) - allowed == set(), "use the public txzpub API"


def test_allowListHasNoStaleEntries() -> None:
    """An entry nobody needs any more goes, so the list stays short and true."""
    stale = {(owner, name) for owner, name in PRIVATE_ALLOWED if name not in privateUses(owner)}
    assert stale == set()


#: Longest class allowed in src/: past this, a class holds more than one idea.
MAX_CLASS_LINES = 250
#: The publisher composes its parts (framing, awareness, cache, lossless queue).
THIN_CLASSES = {"ZmqPubConnection": 200}


def test_classesStaySmall() -> None:
    too_long = []
    for path in MODULES:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef) and node.end_lineno is not None:
                lines = node.end_lineno - node.lineno + 1
                if lines > THIN_CLASSES.get(node.name, MAX_CLASS_LINES):
                    too_long.append(f"{moduleName(path)}.{node.name}: {lines} lines")
    assert too_long == [], "split these classes"
