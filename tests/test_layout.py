"""The shape of the source tree (issue 15): plugins reach core through a declared API, modules stay small, and
core's modules import each other one way only.

Every check reads the source with :mod:`ast` (imports inside functions included), so nothing here imports torch.
"""

from __future__ import annotations

import ast
import importlib
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CORE, PLUGINS = REPO / "core", REPO / "plugins"
MAX_CORE_MODULES_FOR_PLUGINS = 4
MAX_LINES = 450


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_core(module: str | None) -> bool:
    return module is not None and (module == "core" or module.startswith("core."))


def _core_imports(path: Path) -> Iterator[str]:
    """The ``core`` modules (or packages) a source file imports, at any depth of its syntax tree.

    ``from core.a import b`` counts as ``core.a`` (``b`` is a name in it, or a submodule: then ``core.a.b``).
    """
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names if _is_core(a.name))
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and _is_core(node.module):
            for alias in node.names:
                sub = REPO / Path(*f"{node.module}.{alias.name}".split("."))
                is_module = sub.is_dir() or sub.with_suffix(".py").is_file()
                yield f"{node.module}.{alias.name}" if is_module else str(node.module)


def _sources(root: Path) -> list[Path]:
    return sorted(root.rglob("*.py"))


def test_plugins_import_core_through_few_modules():
    used: dict[str, set[str]] = {}
    for path in _sources(PLUGINS):
        for module in _core_imports(path):
            used.setdefault(module, set()).add(str(path.relative_to(REPO)))
    assert len(used) <= MAX_CORE_MODULES_FOR_PLUGINS, {m: sorted(files) for m, files in sorted(used.items())}


def test_example_plugin_imports_only_the_api():
    example = REPO / "examples" / "tinymoo-plugin-example"
    used = {m for path in _sources(example) for m in _core_imports(path)}
    assert used <= {"core.api", "core.interfaces"}, sorted(used)


def test_every_api_name_resolves():
    api = importlib.import_module("core.api")
    assert api.__all__, "core.api declares no names"
    assert len(set(api.__all__)) == len(api.__all__), "a name is listed twice in core.api.__all__"
    missing = [name for name in api.__all__ if getattr(api, name, None) is None]
    assert not missing, missing
    assert set(api.__all__) == set(api._MODULE_OF), "core.api.__all__ and the names it imports differ"


def test_no_module_is_too_long():
    long = {
        str(p.relative_to(REPO)): n
        for p in _sources(CORE) + _sources(PLUGINS)
        if (n := len(p.read_text().splitlines())) > MAX_LINES
    }
    assert not long, long


def _strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm: the strongly connected components of ``graph`` (node -> successors)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            out.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_core_has_no_import_cycle():
    modules = {_module_name(p): p for p in _sources(CORE)}
    graph = {name: {m for m in _core_imports(path) if m in modules and m != name} for name, path in modules.items()}
    cycles = [c for c in _strongly_connected(graph) if len(c) > 1]
    assert not cycles, cycles


def test_cycle_finder_finds_a_cycle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert [c for c in _strongly_connected(graph) if len(c) > 1] == [["a", "b", "c"]]
