"""probe_runs fans out one step per (recipe, seed); a failing run is retried alone, the
report names it, and the next run trains only what is missing."""

import pyarrow.parquet as pq
import pytest
from dagster import DagsterEventType, instance_for_test

import assets.probes
import curation.probe.train
from tests.factories import make_corpus, make_project, write_scores
from tests.graph import run_graph

RECIPES = [
    {"name": "random", "method": "random", "probe": True},
    {"name": "folding", "method": "folding", "probe": True},
    {"name": "saw", "method": "saw"},
]


@pytest.fixture
def project(tmp_path):
    corpus = make_corpus(tmp_path / "corpus", n=60)
    ids = pq.read_table(corpus, columns=["id"]).column("id").to_pylist()
    scores = write_scores(tmp_path / "s.parquet", ids, [float((i * 37) % 61) for i in range(60)])
    probe = {
        "preset": "demo",
        "seeds": 2,
        "overrides": {
            "token_budget": 8_000,
            "n_layer": 1,
            "d_model": 16,
            "n_head": 2,
            "context": 32,
            "batch_size": 4,
            "eval_points": 4,
            "eval_max_tokens": 2048,
            "log_every": 5,
        },
    }
    return make_project(tmp_path / "root", corpus, scores, recipes=RECIPES, probe=probe)


def _train_steps(result, event=DagsterEventType.STEP_SUCCESS) -> list[str]:
    return sorted(
        e.step_key
        for e in result.all_events
        if e.event_type == event and e.step_key.startswith("probe_runs.probe_train[")
    )


def _report(result) -> dict:
    (meta,) = [
        m.materialization.metadata
        for m in result.get_asset_materialization_events()
        if m.asset_key.to_user_string() == "probe_report"
    ]
    return meta


def test_one_step_per_recipe_and_seed_retry_alone_and_resume(project, monkeypatch):
    real = curation.probe.train.run_probe
    attempts = {"n": 0}

    def flaky(job, progress=None):
        if (job.recipe, job.seed) == ("folding", 1):
            attempts["n"] += 1
            raise RuntimeError("simulated node loss")
        return real(job, progress)

    monkeypatch.setattr(curation.probe.train, "run_probe", flaky)
    with instance_for_test() as instance:
        first = run_graph(instance, project)
        assert first.success
        assert len(_train_steps(first)) == 4  # 2 probed recipes x 2 seeds, saw not probed
        assert attempts["n"] == assets.probes.RETRIES + 1  # retried alone, then recorded
        assert len(_train_steps(first, DagsterEventType.STEP_UP_FOR_RETRY)) == 2
        meta = _report(first)
        assert meta["missing_runs"].value == ["folding/seed 1"]
        assert meta["finished_runs"].value == 3
        assert "**Missing runs (1)**: folding/seed 1" in meta["report"].value
        assert "data:image/png;base64," in meta["plot_final_bpb"].value
        logs = [e.message for e in instance.all_logs(first.run_id) if e.message]
        progress = [m for m in logs if m.startswith("random/seed 0: ") and "tokens/s" in m]
        assert 1 <= len(progress) <= 5, progress  # every ~25 % of training, and the end
        assert progress[-1].startswith("random/seed 0: 100% (step ")

        monkeypatch.setattr(curation.probe.train, "run_probe", real)
        second = run_graph(instance, project)
        assert second.success
        assert len(_train_steps(second)) == 1  # only the missing run trains again
        assert _report(second)["missing_runs"].value == []
