"""Staging on Ray (``run.engine: ray``): one task per source file, the same staged bytes and
content key as the local threads, errors naming file and line."""

import hashlib
from pathlib import Path

import pytest

from curation.corpus.staging import StagingError, stage_corpus
from curation.engines.ray_staging import map_on_ray
from curation.project import parse_project
from tests.curation.corpus.test_staging import dolma_rows, jsonl_dir


def project(tmp_path, corpus: str):
    return parse_project(
        {
            "corpus": {"uri": corpus},
            "storage": {"root": str(tmp_path / "root")},
            "run": {"engine": "ray"},
            "recipes": [{"name": "r", "method": "random"}],
        }
    )


def digests(uri: str) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in Path(uri).glob("*.parquet")}


def test_ray_tasks_stage_the_same_bytes_as_threads(tmp_path, ray_local):
    source = jsonl_dir(tmp_path / "src", dolma_rows(200), "zstd", files=4)
    local = stage_corpus(source, str(tmp_path / "local"), log=lambda m: None)
    messages: list[str] = []
    on_ray = stage_corpus(
        source,
        str(tmp_path / "ray"),
        log=messages.append,
        map_files=map_on_ray(project(tmp_path, source)),
    )
    assert on_ray.key == local.key and not on_ray.reused
    assert digests(on_ray.uri) == digests(local.uri) and len(digests(local.uri)) == 4
    assert any("as Ray tasks" in m for m in messages)


def test_a_broken_record_on_ray_names_file_and_line(tmp_path, ray_local):
    source = jsonl_dir(tmp_path / "src", dolma_rows(20), None, files=2)
    path = Path(source) / "part-001.jsonl"
    lines = path.read_text().splitlines()
    lines[2] = '{"id": "x", "text": '
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(StagingError, match=r"part-001\.jsonl: line 3 is not valid JSON"):
        stage_corpus(
            source,
            str(tmp_path / "root"),
            log=lambda m: None,
            map_files=map_on_ray(project(tmp_path, source)),
        )


def test_the_corpus_stage_stages_on_ray_when_the_engine_is_ray(tmp_path, ray_local):
    from curation.stages.corpus import build_corpus

    source = jsonl_dir(tmp_path / "src", dolma_rows(30), "gzip", files=2)
    ref = build_corpus(project(tmp_path, source))
    local = stage_corpus(source, str(tmp_path / "local"), log=lambda m: None)
    assert ref.staged == "converted" and ref.rows == 30
    assert Path(ref.uri).name == local.key and digests(ref.uri) == digests(local.uri)
