"""No import cycles: between the library's packages, between its modules, and no asset module
reaching back to ``definitions``. Every import counts, function-level ones included."""

import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _module(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


LIBRARY = {_module(p): p for p in (ROOT / "curation").rglob("*.py")}


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return {name for name in found if name in LIBRARY}


def _is_package_of(module: str, imported: str) -> bool:
    """``a.b.c`` importing ``a.b`` (its own package's re-exports) is not a cycle."""
    return LIBRARY[imported].name == "__init__.py" and module.startswith(imported + ".")


GRAPH = {
    m: {d for d in _imports(p) if d != m and not _is_package_of(m, d)} for m, p in LIBRARY.items()
}


def _unit(module: str) -> str:
    return ".".join(module.split(".")[:2])


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one node (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in list(graph):
        if node not in index:
            visit(node)
    return found


def test_no_cycle_between_library_packages():
    units: dict[str, set[str]] = defaultdict(set)
    for module, deps in GRAPH.items():
        units[_unit(module)] |= {_unit(d) for d in deps if _unit(d) != _unit(module)}
    assert _cycles(dict(units)) == []


def test_no_cycle_between_library_modules():
    assert _cycles(GRAPH) == []


def test_cycle_finder_finds_one():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_assets_never_import_definitions():
    for path in (ROOT / "assets").glob("*.py"):
        tree = ast.parse(path.read_text())
        names = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        names |= {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        assert "definitions" not in names, path.relative_to(ROOT)


def test_the_wheel_installs_only_the_library():
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert config["packages"]["find"]["include"] == ["curation*"]
    assert "py-modules" not in config
