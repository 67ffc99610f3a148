"""The import rules of docs/architecture.md, checked on every module's source."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ASSET_MODULES = {"corpus", "scores", "orderings", "shards", "probes", "publish", "exports"}


def imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


@pytest.mark.parametrize("path", sorted((ROOT / "curation").rglob("*.py")), ids=str)
def test_the_library_never_imports_dagster_or_the_asset_layer(path):
    bad = {m for m in imports(path) if m.split(".")[0] in ("dagster", "assets", "definitions")}
    assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}"


@pytest.mark.parametrize("path", sorted((ROOT / "curation").rglob("*.py")), ids=str)
def test_the_library_never_names_dagster(path):
    assert "dagster" not in path.read_text().lower(), path.relative_to(ROOT)


#: the composition root builds Definitions from every asset module
COMPOSITION_ROOT = "location"


@pytest.mark.parametrize(
    "path", sorted(p for p in (ROOT / "assets").glob("*.py") if p.stem != COMPOSITION_ROOT), ids=str
)
def test_no_asset_module_imports_another(path):
    others = {f"assets.{m}" for m in ASSET_MODULES} - {f"assets.{path.stem}"}
    bad = imports(path) & others
    assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}"
