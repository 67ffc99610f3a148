"""The whole pipeline on 10^5 real-text documents holds the run's one memory setting.

Slow (several minutes: the probes train). The corpus and the measurement are the ones
``bench/pipeline_scale.py`` uses: the pipeline runs in a child process while
``curation.machine.ResidentSampler`` sums the resident set of its whole process tree
(scoring and probe workers included) four times a second.
"""

import argparse
import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
#: The setting under test: half the 4 GB the issue allows a 10^7-document run. Data steps
#: (everything but probe training) must stay within it, interpreter and libraries included
#: (~1 GB of Dagster, Great Expectations and torch before any data is read).
MEMORY_MB = 2048
#: The issue's bound for the whole run, probe worker processes included.
WHOLE_RUN_MB = 4096


def load_bench():
    spec = importlib.util.spec_from_file_location(
        "pipeline_scale", ROOT / "bench/pipeline_scale.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_pipeline_on_1e5_documents_holds_the_memory_setting(tmp_path):
    bench = load_bench()
    corpus = bench.build_corpus(10**5)
    args = argparse.Namespace(memory_mb=MEMORY_MB, recipe_names="random,str-paper,saw-paper")
    result = bench.run_pipeline(corpus, args, tmp_path)
    log = result["log"].read_text()
    assert result["code"] == 0, log[-3000:]
    windows = bench.step_windows(tmp_path)
    assert windows, "no steps recorded"
    peak_mb = result["peak"] / 2**20
    assert peak_mb <= WHOLE_RUN_MB, f"the process tree peaked at {peak_mb:,.0f} MiB"
    data_steps = [w for w in windows if bench.stage_of(w[0]) != "probe"]
    assert {bench.stage_of(w[0]) for w in data_steps} >= {"sample_scores", "shards", "published"}
    for step, start, end in data_steps:
        held = result["sampler"].peak_between(start, end) / 2**20
        assert held <= MEMORY_MB, f"{step} held {held:,.0f} MiB under a {MEMORY_MB} MiB setting"
