"""docs/environment.md lists every CURATION_* variable the code reads, and nothing else."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NAME = re.compile(r"\bCURATION_[A-Z][A-Z0-9_]*\b")


def _names(paths) -> set[str]:
    found = set()
    for path in paths:
        found |= set(NAME.findall(path.read_text(errors="replace")))
    return found


def _code() -> set[str]:
    python = [*ROOT.glob("curation/**/*.py"), *ROOT.glob("assets/*.py"), ROOT / "definitions.py"]
    deploy = [p for p in (ROOT / "deploy").rglob("*") if p.is_file() and p.suffix != ".md"]
    return _names(python) | _names(deploy)


def test_every_variable_the_code_reads_is_documented():
    documented = _names([ROOT / "docs" / "environment.md"])
    assert sorted(_code() - documented) == []


def test_every_documented_variable_is_read_somewhere():
    documented = _names([ROOT / "docs" / "environment.md"])
    assert sorted(documented - _code()) == []
