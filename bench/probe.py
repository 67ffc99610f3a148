"""Probe benchmarks.

``python bench/probe.py [--quick]``: tokens/s of ``train_probe``'s loop against a bare
PyTorch loop of the same model and batch on pre-made tensors (the floor), same process,
and the overhead ratio (goal < 10%).

``python bench/probe.py --orderings [--budget BYTES] [--seeds 2] [--out DIR]``: builds a
~1.5 MB real-text corpus (Wikipedia fragment + Lee news corpus from the gensim 4.4.0
wheel, ``pip download gensim==4.4.0 --no-deps -d /tmp/gensim``), scores documents by
zlib ratio after a fixed reference text, orders them with 5 methods, runs the probes on
2 worker processes and writes the report.
"""

import argparse
import bz2
import glob
import re
import sys
import time
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from curation.ordering import order  # noqa: E402
from curation.probe import data  # noqa: E402
from curation.probe.model import GPT  # noqa: E402
from curation.probe.report import write_report  # noqa: E402
from curation.probe.train import (  # noqa: E402
    ProbeConfig,
    ProbeJob,
    make_optimizer,
    run_probes,
    steps_at_documents,
    train_probe,
)

WHEEL_GLOB = "/tmp/gensim/gensim-4.4.0-*.whl"
METHODS = ("random", "sorted", "folding", "str", "saw")


# ----------------------------------------------------------------------------- corpus


def _wiki_paragraphs(xml: str) -> list[str]:
    """Rough wiki-markup stripping; good enough for a byte-level probe."""
    out = []
    for body in re.findall(r"<text[^>]*>(.*?)</text>", xml, flags=re.S):
        body = re.sub(r"\{\{.*?\}\}|&lt;ref.*?&lt;/ref&gt;|&lt;.*?&gt;", "", body, flags=re.S)
        body = re.sub(r"\[\[(?:[^\]|]*\|)?([^\]]*)\]\]", r"\1", body)
        body = body.replace("&quot;", '"').replace("&amp;", "&").replace("'''", "")
        out += [
            p.strip()
            for p in body.split("\n\n")
            if len(p.strip()) >= 300 and not p.strip().startswith(("{|", "|", "*", "=="))
        ]
    return out


def build_texts(max_bytes: int = 1_800_000) -> list[str]:
    wheels = glob.glob(WHEEL_GLOB)
    if not wheels:
        sys.exit("gensim wheel missing: pip download gensim==4.4.0 --no-deps -d /tmp/gensim")
    z = zipfile.ZipFile(wheels[0])
    base = "gensim/test/test_data/"
    xml = bz2.decompress(
        z.read(base + "enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2")
    ).decode("utf-8", "replace")
    lee = z.read(base + "lee_background.cor").decode("utf-8", "replace").splitlines()
    texts = _wiki_paragraphs(xml) + [t for t in lee if len(t) > 200]
    keep = np.random.default_rng(0).permutation(len(texts))
    sizes = np.cumsum([len(texts[i].encode()) for i in keep])
    return [texts[i] for i in keep[: int(np.searchsorted(sizes, max_bytes))]]


def zlib_scores(texts: list[str]) -> np.ndarray:
    """Compression ratio after a fixed reference text (less length-confounded)."""
    ref = " ".join(texts[:20]).encode()[:4000]
    base = len(zlib.compress(ref, 9))
    return np.array(
        [(len(zlib.compress(ref + t.encode(), 9)) - base) / max(1, len(t.encode())) for t in texts]
    )


def write_shards(
    texts: list[str], scores: np.ndarray, idx: np.ndarray, out: Path, rows: int = 500
) -> list[str]:
    out.mkdir(parents=True, exist_ok=True)
    table = pa.table(
        {"id": np.asarray(idx, np.int64), "text": [texts[i] for i in idx], "score": scores[idx]}
    )
    paths = []
    for k, start in enumerate(range(0, len(idx), rows)):
        path = out / f"part-{k:05d}.parquet"
        pq.write_table(table.slice(start, rows), path)
        paths.append(str(path))
    return paths


# ----------------------------------------------------------------------------- overhead


def bare_loop(cfg: ProbeConfig, blocks: list[np.ndarray]) -> float:
    """Floor: same model/optimizer/clipping on pre-made tensors, nothing recorded."""
    torch.set_num_threads(cfg.threads)
    model = GPT(cfg.model_config(), seed=cfg.seed)
    opt = make_optimizer(model, cfg)
    n = cfg.batch_size * cfg.context
    ts = [torch.from_numpy(b.astype(np.int64)) for b in blocks]
    xs = [(t[:n].view(cfg.batch_size, -1), t[1 : n + 1].view(cfg.batch_size, -1)) for t in ts]
    t0 = time.perf_counter()
    for x, y in xs:
        _, loss = model(x, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        opt.step()
    return len(xs) * n / (time.perf_counter() - t0)


def overhead(quick: bool, work: Path) -> None:
    texts = build_texts(300_000 if quick else 800_000)
    scores = zlib_scores(texts)
    shards = write_shards(texts, scores, np.arange(len(texts)), work / "overhead")
    cfg = ProbeConfig(token_budget=80_000 if quick else 300_000, eval_points=1)
    plan = data.plan_batches(
        data.stream_size(shards), cfg.batch_size, cfg.context, cfg.token_budget
    )
    blocks = [b.copy() for b in data.iter_blocks(shards, plan)]
    floor, probe = [], []
    for _ in range(2):  # alternate to share any machine drift
        floor.append(bare_loop(cfg, blocks))
        probe.append(train_probe(shards, {}, cfg).tokens_per_s)
    f, p = max(floor), max(probe)
    print(
        f"steps={plan.steps} bare loop {f:,.0f} tok/s, train_probe loop {p:,.0f} tok/s, "
        f"overhead {100 * (f / p - 1):+.1f}% (runs: floor {[int(x) for x in floor]}, "
        f"probe {[int(x) for x in probe]})"
    )


# ----------------------------------------------------------------------------- orderings


def orderings(args, work: Path) -> None:
    t0 = time.perf_counter()
    texts = build_texts(args.corpus_bytes)
    scores = zlib_scores(texts)
    rng = np.random.default_rng(1)
    held = np.zeros(len(texts), bool)
    held[rng.permutation(len(texts))[: int(0.12 * len(texts))]] = True
    q10, q90 = np.quantile(scores, [0.1, 0.9])
    ev = {
        "heldout_random": np.flatnonzero(held),
        "heldout_high": np.flatnonzero(held & (scores >= q90)),
        "heldout_low": np.flatnonzero(held & (scores <= q10)),
    }
    eval_sets = {k: write_shards(texts, scores, v, work / "eval" / k) for k, v in ev.items()}
    train = np.flatnonzero(~held)
    cfg = ProbeConfig(token_budget=args.budget)
    jobs, curves = [], {}
    boundaries = None
    for method in METHODS:
        pos = order(scores[train], method)
        shards = write_shards(texts, scores, train[pos], work / "orderings" / method)
        curves[method] = (np.arange(pos.size), scores[train][pos])
        if method == "folding":
            layers = pos.metadata["params"]["folding_layer"]
            cuts = [round(pos.size * k / layers) for k in range(1, layers)]
            boundaries = steps_at_documents(shards, cuts, cfg)
        jobs.append((method, shards))
    print(
        f"corpus {sum(len(t.encode()) for t in texts):,} bytes, {len(texts)} docs, "
        f"train {train.size} docs; eval docs {[len(v) for v in ev.values()]}; "
        f"folding boundaries at steps {boundaries}; prep {time.perf_counter() - t0:.1f}s"
    )
    probe_jobs = [
        ProbeJob(m, seed, s, eval_sets, cfg, boundaries if m in ("folding", "random") else None)
        for seed in range(args.seeds)
        for m, s in jobs
    ]
    t1 = time.perf_counter()
    results = run_probes(probe_jobs, workers=args.workers)
    print(f"{len(probe_jobs)} runs on {args.workers} workers: {time.perf_counter() - t1:.1f}s")
    rep = write_report(
        results,
        str(work / "report"),
        score_curves=curves,
        title=f"Orderings on {len(texts)} real documents (zlib score)",
    )
    print(rep["markdown"])
    print("report:", rep["report_path"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--orderings", action="store_true")
    ap.add_argument("--budget", type=int, default=300_000)
    ap.add_argument("--corpus-bytes", type=int, default=1_700_000)
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", default="/tmp/probe_bench")
    args = ap.parse_args()
    work = Path(args.out)
    if args.orderings:
        orderings(args, work)
    else:
        overhead(args.quick, work)


if __name__ == "__main__":
    main()
