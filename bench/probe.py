"""Probe benchmarks.

``python bench/probe.py [--presets demo,verdict,gpu] [--steps N]``: tokens/s of
``run_probe``'s training loop for each preset's model on CPU (bf16 and compile switched
off: CPU settings) against a bare PyTorch loop of the same model, batch and optimiser on
pre-made tensors (the floor), in the same process, and the ratio.

``python bench/probe.py --verdict [--out DIR]``: the ``verdict`` preset for real: ~1.5 MB
of the demo's text, compression scores, random/sorted/folding/STR/SAW x 3 seeds on two
1-thread processes; prints the report and the wall time.
"""

import argparse
import json
import os
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pyarrow.compute as pc
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from curation.probe.config import preset  # noqa: E402
from curation.probe.experiment import make_jobs, run_many, scored_sample  # noqa: E402
from curation.probe.model import GPT  # noqa: E402
from curation.probe.report import write_report  # noqa: E402
from curation.probe.result import ProbeResult  # noqa: E402
from curation.probe.train import make_optimizer, run_probe  # noqa: E402

METHODS = ["random", "sorted", "folding", "str", "saw"]
CACHE = os.path.join(tempfile.gettempdir(), "curation-demo-cache")


def demo_corpus(max_bytes: int) -> tuple:
    """~``max_bytes`` of the demo's real text (built from the gensim wheel), scored."""
    try:
        from demo.data import prepare_demo_corpus
    except ImportError:  # before the demo left the library
        from curation.demo_data import prepare_demo_corpus
    import pyarrow.parquet as pq

    return scored_sample(pq.read_table(prepare_demo_corpus(CACHE, CACHE)), max_bytes)


def bare_loop(cfg, tokens: np.ndarray, steps: int) -> float:
    """Floor: the same model, optimiser and clipping on pre-made tensors; nothing recorded."""
    torch.set_num_threads(cfg.threads)
    model = GPT(cfg, 256, seed=0)
    opt = make_optimizer(model, cfg, torch.device("cpu"))
    n = cfg.tokens_per_step
    t = torch.from_numpy(tokens.astype(np.int64))
    batches = [
        (
            t[s * n : (s + 1) * n].view(-1, cfg.context),
            t[s * n + 1 : (s + 1) * n + 1].view(-1, cfg.context),
        )
        for s in range(steps)
    ]
    t0 = time.perf_counter()
    for x, y in batches:
        for m in range(cfg.grad_accum):
            rows = slice(m * cfg.batch_size, (m + 1) * cfg.batch_size)
            _, loss = model(x[rows], y[rows])
            (loss / cfg.grad_accum).backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        opt.step()
        opt.zero_grad(set_to_none=True)
    return steps * n / (time.perf_counter() - t0)


def throughput(names: list[str], steps: int) -> None:
    table, scores = demo_corpus(1_500_000)
    for name in names:
        cfg = preset(name)
        cfg = replace(
            cfg,
            precision="fp32",
            compile=False,
            tokenizer="bytes",
            threads=1,
            device="cpu",
            eval_points=1,
            checkpoint_every=0,
            token_budget=steps * cfg.tokens_per_step,
            seeds=1,
        )
        if name == "gpu":  # a CPU cannot run the gpu preset's full step; measure its model
            cfg = replace(
                cfg,
                grad_accum=1,
                batch_size=2,
                context=512,
                token_budget=steps * 1024,
                eval_max_tokens=1024,
                eval_batch=2,
            )
        with tempfile.TemporaryDirectory() as work:
            job = make_jobs(table, scores, ["random"], cfg, work)[0]
            tokens = np.frombuffer("\x00".join(table.column("text").to_pylist()).encode(), np.uint8)
            floor, probe = [], []
            for _ in range(2):  # alternate, so machine drift hits both
                floor.append(bare_loop(cfg, tokens, steps))
                probe.append(run_probe(job).tokens_per_s)
        f, p = max(floor), max(probe)
        n = GPT(cfg, 256).num_params()
        print(
            f"{name}: {n / 1e6:.2f}M params, batch {cfg.batch_size}x{cfg.context}, {steps} steps, "
            f"1 thread: bare loop {f:,.0f} tok/s, run_probe {p:,.0f} tok/s, ratio {p / f:.3f} "
            f"(runs: floor {[int(x) for x in floor]}, probe {[int(x) for x in probe]})",
            flush=True,
        )


def verdict(out: str, report_only: bool = False) -> None:
    """Run (or, with ``report_only``, only report) the verdict preset; each finished run is
    saved as it ends under ``out/runs``, so a run cut short still reports what finished."""
    t0 = time.perf_counter()
    cfg = preset("verdict")
    runs = Path(out) / "runs"
    runs.mkdir(parents=True, exist_ok=True)
    expected = [(m, seed) for m in METHODS for seed in range(cfg.seeds)]

    def save(result) -> None:
        path = runs / f"{result.recipe}-{result.seed}.json"
        path.write_text(json.dumps(result.to_dict()))
        print(
            f"finished {result.recipe}/seed {result.seed} at {time.perf_counter() - t0:.0f} s "
            f"({result.tokens_per_s:,.0f} tok/s)",
            flush=True,
        )

    if not report_only:  # the report alone never rewrites what running jobs read
        table, scores = demo_corpus(1_500_000)
        jobs = make_jobs(table, scores, METHODS, cfg, out)
        size = int(pc.sum(pc.binary_length(table.column("text"))).as_py())
        print(f"corpus {size:,} bytes, {table.num_rows} docs; {len(jobs)} runs", flush=True)
        todo = [j for j in jobs if not (runs / f"{j.recipe}-{j.seed}.json").exists()]
        run_many(todo, workers=2, verbose=True, on_result=save)
    results = [
        ProbeResult.from_dict(json.loads(p.read_text())) for p in sorted(runs.glob("*.json"))
    ]
    report = write_report(
        results,
        os.path.join(out, "report"),
        expected=expected,
        title="verdict preset on ~1.5 MB of the demo text (compression score)",
    )
    print(report["markdown"])
    print(
        f"{len(results)} of {len(expected)} runs finished; total {time.perf_counter() - t0:.1f} s"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--presets", default="demo,verdict,gpu")
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--verdict", action="store_true")
    ap.add_argument("--report-only", action="store_true", help="with --verdict: no training")
    ap.add_argument("--out", default=os.path.join(tempfile.gettempdir(), "probe_verdict"))
    args = ap.parse_args()
    if args.verdict:
        verdict(args.out, args.report_only)
    else:
        throughput(args.presets.split(","), args.steps)


if __name__ == "__main__":
    main()
