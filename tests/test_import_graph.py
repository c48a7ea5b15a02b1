"""The import graph: no two modules (or packages) import each other, and engines never see the job layer.

import-linter's layer contract (pyproject.toml, run by the test command) orders the packages; these tests add
what it cannot say: no cycle of any length between modules, and each engine folder self-contained.
"""

from __future__ import annotations

import grimp
import pytest

PACKAGES = ("geogen", "tiles")


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph(*PACKAGES, cache_dir=None)


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one node (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = [0]

    def visit(node: str) -> None:
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for nxt in edges.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def _module_edges(graph: grimp.ImportGraph) -> dict[str, set[str]]:
    return {m: set(graph.find_modules_directly_imported_by(m)) for m in graph.modules}


def test_no_module_import_cycles(graph: grimp.ImportGraph) -> None:
    edges = _module_edges(graph)
    # A package's __init__ that re-exports its own submodules is not a cycle of ideas: leave out parent edges.
    for module, targets in edges.items():
        edges[module] = {
            t for t in targets if not module.startswith(t + ".") and not t.startswith(module + ".")
        }
    assert _cycles(edges) == []


def _package_of(module: str, depth: int) -> str:
    return ".".join(module.split(".")[:depth])


def test_no_package_import_cycles(graph: grimp.ImportGraph) -> None:
    """geogen's subpackages (geogen.io, geogen.engines, ...) form a directed acyclic graph."""
    edges: dict[str, set[str]] = {}
    for module, targets in _module_edges(graph).items():
        if module.count(".") < 1:
            continue
        source = _package_of(module, 2)
        for target in targets:
            if target.count(".") >= 1 and _package_of(target, 2) != source:
                edges.setdefault(source, set()).add(_package_of(target, 2))
    assert _cycles(edges) == []


def test_engines_never_import_the_job_layer(graph: grimp.ImportGraph) -> None:
    """Engines receive typed values, never the job spec: nothing under geogen.engines reaches a higher layer."""
    higher = ("geogen.job", "geogen.pipelines", "geogen.api", "geogen.cli")
    offenders = sorted(
        (module, target)
        for module in graph.find_children("geogen.engines") | graph.find_descendants("geogen.engines")
        for target in graph.find_modules_directly_imported_by(module)
        if target.startswith(higher)
    )
    assert offenders == []


def test_each_engine_folder_is_self_contained(graph: grimp.ImportGraph) -> None:
    """An engine folder imports the contract, lower layers and at most the engines it is built on."""
    built_on = {"geogen.engines.sr_temporal": {"geogen.engines.temporal_controlnet"}}
    folders = {m for m in graph.find_children("geogen.engines") if graph.find_children(m)}
    offenders = []
    for folder in sorted(folders):
        for module in graph.find_descendants(folder) | {folder}:
            for target in graph.find_modules_directly_imported_by(module):
                other = _package_of(target, 3)
                if other in folders and other != folder and other not in built_on.get(folder, set()):
                    offenders.append((module, target))
    assert offenders == []
