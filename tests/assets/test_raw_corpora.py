"""Corpora as teams hold them, through the real graph: jsonl.gz / jsonl.zst directories
publish what the same rows as parquet publish; a FineWeb-Edu-shaped corpus publishes
ordered by its own ``int_score``, every column kept exactly; staging is reused."""

import datetime as dt
import gzip
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from dagster import instance_for_test

from curation.project import parse_project
from curation.publish import resolve_version
from curation.shards.columns import POSITION, SCORE
from tests.factories import TINY_PROBE, real_texts
from tests.graph import run_graph

N = 120
RECIPE = {"name": "str2", "method": "str", "params": {"num_sections": 2}}


def dolma_rows(n: int) -> list[dict]:
    """Dolma-shaped documents (id, text, source, added, nested metadata) with a quality
    value the run orders by."""
    texts = real_texts(n)
    return [
        {
            "id": f"doc-{i:04d}",
            "text": texts[i],
            "source": ["web", "books", "wiki"][i % 3],
            "added": f"2024-02-{1 + i % 28:02d}T12:00:00Z",
            "metadata": {"url": f"https://example.org/{i}", "length": len(texts[i])},
            "quality": float((i * 37) % 61),
        }
        for i in range(n)
    ]


def write_jsonl_dir(base: Path, rows: list[dict], codec: str, files: int = 3) -> str:
    base.mkdir(parents=True)
    step = -(-len(rows) // files)
    for f in range(files):
        data = "".join(json.dumps(r) + "\n" for r in rows[f * step : (f + 1) * step]).encode()
        if codec == "gzip":
            (base / f"part-{f}.jsonl.gz").write_bytes(gzip.compress(data))
        else:
            with pa.CompressedOutputStream(str(base / f"part-{f}.jsonl.zst"), "zstd") as out:
                out.write(data)
    return str(base)


def project(root: Path, corpus: str, recipe: dict = RECIPE, **scores):
    return parse_project(
        {
            "corpus": {"uri": corpus},
            "scores": scores or {"column": "quality"},
            "storage": {"root": str(root), "dataset_prefix": "t"},
            "run": {"rows_per_shard": 32},
            "probe": TINY_PROBE,
            "recipes": [recipe],
        },
        source="test project",
    )


def published(proj, recipe: str = "str2") -> pa.Table:
    root = proj.path("published")
    dataset = proj.dataset_name(recipe)
    version = resolve_version(root, dataset)
    parts = sorted((Path(root) / dataset / version).glob("part-*.parquet"))
    return pa.concat_tables([pq.read_table(p) for p in parts])


def run_ok(instance, proj):
    result = run_graph(instance, proj)
    assert result.success, [
        e.step_failure_data.error.to_string() for e in result.get_step_failure_events()
    ]
    return result


@pytest.fixture(scope="module")
def three_shapes(tmp_path_factory):
    """The same rows as parquet, as a jsonl.gz directory and as a jsonl.zst directory."""
    base = tmp_path_factory.mktemp("raw")
    rows = dolma_rows(N)
    pq.write_table(pa.Table.from_pylist(rows), base / "corpus.parquet")
    corpora = {
        "parquet": str(base / "corpus.parquet"),
        "gz": write_jsonl_dir(base / "gz", rows, "gzip"),
        "zst": write_jsonl_dir(base / "zst", rows, "zstd"),
    }
    out = {}
    with instance_for_test() as instance:
        for name, uri in corpora.items():
            proj = project(base / f"root-{name}", uri)
            run_ok(instance, proj)
            out[name] = (proj, published(proj))
        zst_project = out["zst"][0]
        staged = sorted((Path(zst_project.storage.root) / "staging").glob("*/part-*.parquet"))
        stamps = {p: p.stat().st_mtime_ns for p in staged}
        again = run_ok(instance, zst_project)
    return {"runs": out, "rerun": again, "staged": stamps}


def test_jsonl_gz_and_zst_dirs_publish_the_ids_of_the_same_parquet_in_its_order(three_shapes):
    runs = three_shapes["runs"]
    want = runs["parquet"][1].column("id").to_pylist()
    assert sorted(want) == [f"doc-{i:04d}" for i in range(N)]
    assert want != sorted(want)  # the recipe did reorder
    for name in ("gz", "zst"):
        table = runs[name][1]
        assert table.column("id").to_pylist() == want, name
        assert table.column(POSITION).to_pylist() == list(range(N))
        for column in ("text", "source", "metadata", "quality"):
            assert table.column(column).equals(runs["parquet"][1].column(column)), column


def test_a_second_run_reuses_the_staging_copy(three_shapes):
    stamps = three_shapes["staged"]
    assert stamps and all(p.stat().st_mtime_ns == t for p, t in stamps.items())
    metadata = [
        m.materialization.metadata
        for m in three_shapes["rerun"].get_asset_materialization_events()
        if m.asset_key.to_user_string() == "raw_corpus"
    ]
    assert metadata and metadata[0]["staged"].value == "reused"
    proj = three_shapes["runs"]["zst"][0]
    assert published(proj).equals(three_shapes["runs"]["zst"][1])


def fineweb_edu_table(n: int) -> pa.Table:
    """FineWeb-Edu's shape: its own score (float) and int_score, plus nested, list,
    timestamp and dictionary columns that must reach the shards exactly."""
    rng = np.random.default_rng(3)
    score = rng.uniform(0.5, 4.5, n)
    when = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    return pa.table(
        {
            "text": real_texts(n),
            "id": [f"<urn:uuid:{i:08x}>" for i in range(n)],
            "dump": pa.array(
                [["CC-MAIN-2024-10", "CC-MAIN-2024-18"][i % 2] for i in range(n)]
            ).dictionary_encode(),
            "url": [f"https://example.com/{i}" for i in range(n)],
            "date": pa.array(
                [when + dt.timedelta(minutes=i) for i in range(n)], pa.timestamp("us", tz="UTC")
            ),
            "language_score": rng.uniform(0.6, 1.0, n),
            "token_count": pa.array(rng.integers(50, 900, n), pa.int32()),
            "score": score,
            "int_score": pa.array(np.rint(score).astype(np.int64)),
            "position": pa.array(np.arange(n)[::-1]),  # a corpus column of that name is fine
            "meta": pa.array(
                [{"lang": "en", "tags": ["edu"] * (i % 3)} for i in range(n)],
                pa.struct([("lang", pa.string()), ("tags", pa.list_(pa.string()))]),
            ),
        }
    )


@pytest.fixture(scope="module")
def fineweb(tmp_path_factory):
    base = tmp_path_factory.mktemp("fineweb")
    table = fineweb_edu_table(N)
    (base / "data").mkdir()
    pq.write_table(table.slice(0, 70), base / "data" / "000_00000.parquet")
    pq.write_table(table.slice(70), base / "data" / "000_00001.parquet")
    proj = project(
        base / "root",
        str(base / "data"),
        {"name": "edu", "method": "sorted", "params": {"ascending": False}},
        column="int_score",
    )
    with instance_for_test() as instance:
        run_ok(instance, proj)
    return table, published(proj, "edu")


def test_a_fineweb_edu_corpus_publishes_ordered_by_its_own_int_score(fineweb):
    table, got = fineweb
    ints = got.column("int_score").to_numpy()
    assert (np.diff(ints) <= 0).all() and ints[0] > ints[-1]  # descending, as asked
    assert np.array_equal(got.column(SCORE).to_numpy(), ints.astype(np.float64))
    # ties keep corpus order (stable sort): within each int_score, ids in corpus order
    rows = {v: i for i, v in enumerate(table.column("id").to_pylist())}
    order = [rows[i] for i in got.column("id").to_pylist()]
    for value in np.unique(ints):
        block = [o for o, s in zip(order, ints, strict=True) if s == value]
        assert block == sorted(block)


def test_every_corpus_column_reaches_the_shards_exactly(fineweb):
    table, got = fineweb
    assert got.column_names == table.column_names + [POSITION, SCORE]
    for field in table.schema:
        assert got.schema.field(field.name).type == field.type, field.name
    back = got.select(table.column_names).sort_by("id")
    assert back.equals(table.sort_by("id"))


def test_a_reserved_column_is_refused_before_any_work(tmp_path):
    table = fineweb_edu_table(20).append_column("_curation_note", pa.array(["x"] * 20))
    pq.write_table(table, tmp_path / "c.parquet")
    proj = project(tmp_path / "root", str(tmp_path / "c.parquet"), column="int_score")
    with instance_for_test() as instance:
        result = run_graph(instance, proj)
    assert not result.success
    (failure,) = result.get_step_failure_events()
    assert failure.step_key == "raw_corpus"
    message = failure.step_failure_data.error.to_string()
    assert "_curation_note" in message and "reserved" in message
    assert not (tmp_path / "root" / "work").exists()


def test_a_dclm_shaped_corpus_without_ids_publishes_with_file_row_ids(tmp_path):
    """DCLM-baseline: jsonl.zst records with text, url, nested metadata and a fastText
    quality probability, no id; ids made from file and row, ordered by that probability."""
    texts = real_texts(40)
    rows = [
        {
            "bff_contained_ngram_count_before_dedupe": i % 3,
            "language_id_whole_page_fasttext": {"en": 0.9},
            "metadata": {"WARC-Record-ID": f"<urn:uuid:{i:04x}>", "WARC-Date": "2013-05-18"},
            "text": texts[i],
            "url": f"https://example.net/{i}",
            "fasttext_openhermes_reddit_eli5_vs_rw_v2_bigram_200k_train_prob": ((i * 7) % 40) / 40,
        }
        for i in range(40)
    ]
    uri = write_jsonl_dir(tmp_path / "dclm", rows, "zstd", files=2)
    proj = parse_project(
        {
            "corpus": {"uri": f"{uri}/*.jsonl.zst", "ids": "file_row"},
            "scores": {"column": "fasttext_openhermes_reddit_eli5_vs_rw_v2_bigram_200k_train_prob"},
            "storage": {"root": str(tmp_path / "root")},
            "recipes": [{"name": "best-last", "method": "sorted"}],
        }
    )
    with instance_for_test() as instance:
        run_ok(instance, proj)
    got = published(proj, "best-last")
    probs = got.column("fasttext_openhermes_reddit_eli5_vs_rw_v2_bigram_200k_train_prob")
    assert (np.diff(probs.to_numpy()) >= 0).all()
    assert sorted(got.column("id").to_pylist()) == sorted(
        [f"part-0.jsonl.zst#{i}" for i in range(20)] + [f"part-1.jsonl.zst#{i}" for i in range(20)]
    )


def test_fineweb_edu_keeps_int_score_3_and_up_then_orders_what_it_kept(tmp_path):
    """What teams run on FineWeb-Edu: keep ``int_score >= 3`` (a threshold on its own raw
    score), then order the kept rows; equal to the reference's threshold + SAW loops."""
    from curation.ordering.engine import DEFAULTS
    from tests.curation.ordering.reference_selection import ref_select_then_order

    table = fineweb_edu_table(N)
    pq.write_table(table, tmp_path / "corpus.parquet")
    recipe = {
        "name": "edu3-saw",
        "method": "saw",
        "params": {"num_sections": 2},
        "select": {"threshold": 2.5},
    }
    proj = project(tmp_path / "root", str(tmp_path / "corpus.parquet"), recipe, column="int_score")
    with instance_for_test() as instance:
        run_ok(instance, proj)
    got = published(proj, "edu3-saw")
    ints = table.column("int_score").to_numpy().astype(np.float64).tolist()
    params = {**DEFAULTS["saw"], "num_sections": 2}
    rows = ref_select_then_order(ints, ints, "threshold", 2.5, "saw", **params)
    ids = table.column("id").to_pylist()
    assert got.column("id").to_pylist() == [ids[r] for r in rows]
    assert got.num_rows == sum(v >= 3 for v in ints) < N
    assert (got.column("int_score").to_numpy() >= 3).all()
