"""
The architecture, enforced: each layer imports only the layers below it.

L0 _errors, _version  <  L1 _core (sans-IO: stdlib, attrs, _errors; never twisted or zmq)
<  L2 _subscription, _reader  <  L3 _factory, _connection, _publisher, _subscriber
<  L4 _legacy, testing  <  L5 __init__ and anything above (CLI, examples).
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src" / "txzpub"

LAYERS = {
    "txzpub._errors": 0,
    "txzpub._version": 0,
    "txzpub._core": 1,
    "txzpub._subscription": 2,
    "txzpub._reader": 2,
    "txzpub._factory": 3,
    "txzpub._connection": 3,
    "txzpub._publisher": 3,
    "txzpub._subscriber": 3,
    "txzpub._legacy": 4,
    "txzpub.testing": 5,
    "txzpub": 5,
    "txzpub._cli": 6,
    "txzpub._monitor": 2,
    "txzpub._security": 2,
    "txzpub._authenticator": 2,
    "txzpub._service": 5,
    "txzpub.__main__": 6,
}

CORE_ALLOWED_THIRD_PARTY = {"attrs"}


def moduleName(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def layerOf(module: str) -> int:
    best = ""
    for prefix in LAYERS:
        if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > len(best):
            best = prefix
    return LAYERS[best]


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


@pytest.mark.parametrize("path", MODULES, ids=lambda p: moduleName(p))
def test_importsFlowDownward(path: Path) -> None:
    module = moduleName(path)
    own = layerOf(module)
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


def test_everyModuleHasALayer() -> None:
    for path in MODULES:
        layerOf(moduleName(path))  # KeyError names a module missing from LAYERS
