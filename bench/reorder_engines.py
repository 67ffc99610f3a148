"""The reorder stage on the local engine and on Ray, side by side (``bench/reorder.py --engine
ray`` runs this).

One plan (the stage's own ``ShardPlan``: a random permutation of a 10^6-document corpus, the
plan arrays saved as the stage saves them) is written by

- ``local``: the local engine's units in one process (every scatter unit, then every write
  unit, each on every core the memory setting allows: ``curation.stages.shards``);
- ``ray-objects`` / ``ray-spill``: ``curation.engines.ray_shards`` on a running Ray cluster
  (buckets through Ray's object store, or the local engine's spill files),

each in a fresh child process, in alternating rounds. The Ray cluster is started once by this
process before the rounds (its start-up is reported apart) and the child connects to it by
address, as a run with ``ray.address`` set does. Measured per run: wall time, CPU seconds and
peak resident set of the whole process tree -- for Ray the child plus every Ray process (GCS,
raylet, workers), sampled from /proc, since ``time -v`` misses Ray's workers -- and the shard
sha256s, which must be the same for every engine.
"""

import json
import os
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import numpy as np

from curation.machine import descendants

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
MiB = 1 << 20
TICK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


# ----------------------------------------------------------------------------- /proc


def rss(pids: set[int]) -> int:
    total = 0
    for p in pids:
        try:
            with open(f"/proc/{p}/statm") as f:
                total += int(f.read().split()[1]) * PAGE
        except (OSError, ValueError, IndexError):
            pass
    return total


def cpu_ticks(pids: set[int]) -> dict[int, int]:
    out = {}
    for p in pids:
        try:
            with open(f"/proc/{p}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            out[p] = int(fields[11]) + int(fields[12])  # utime + stime
        except (OSError, ValueError, IndexError):
            pass
    return out


class TreeSampler:
    """Peak resident set of ``pids()`` (re-listed every sample), every 0.1 s, and the last
    CPU ticks seen of each (Ray starts a job's workers for the job and ends them with it,
    so their CPU must be read while they live: at most one interval of it is missed)."""

    def __init__(self, pids):
        self.pids, self.peak, self.ticks = pids, 0, {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            pids = self.pids()
            self.peak = max(self.peak, rss(pids))
            self.ticks.update(cpu_ticks(pids))
            self._stop.wait(0.1)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


# ----------------------------------------------------------------------------- the plan


def make_plan(corpus: Path, work: Path, memory_mb: int, shard_mb: int, engine: str):
    """The stage's plan for a random permutation (seed 7), arrays saved as the stage does."""
    from curation.refs import ShardPlan
    from curation.shards import (
        MiB,
        corpus_layout,
        inverse_permutation,
        plan_file_groups,
        plan_groups,
        plan_shards,
        rows_per_shard_for,
    )
    from curation.stages.shards import _save
    from curation.storage import resolve

    layout = corpus_layout(str(corpus))
    n = layout.n_rows
    rows = np.random.default_rng(7).permutation(n)
    rows_per_shard = rows_per_shard_for(layout, shard_mb * MiB)
    specs = plan_shards(n, rows_per_shard)
    token = uuid.uuid4().hex[:8]
    plan = ShardPlan(
        recipe="bench",
        out=str(work / f"out-{engine}-{token}"),
        corpus=str(corpus),
        rows=n,
        rows_per_shard=rows_per_shard,
        shards=len(specs),
        shard_groups=len(plan_groups(specs, 2)),
        file_groups=tuple(plan_file_groups(layout, 2)),
        memory_limit=memory_mb * MiB,
        plan_dir=str(work / f"plan-{token}"),
        spill=str(work / f"spill-{token}"),
        reused=False,
        engine="ray" if engine.startswith("ray") else "local",
    )
    plan_dir = resolve(plan.plan_dir)
    _save(plan_dir.join("rows.npy"), rows)
    _save(plan_dir.join("positions.npy"), inverse_permutation(rows))
    _save(plan_dir.join("score.npy"), np.random.default_rng(8).random(n)[rows])
    return plan


# ----------------------------------------------------------------------------- children


def child(args) -> None:
    """One engine's run of a fresh plan; prints wall time, CPU and shard sha256s."""
    import resource
    import shutil

    from curation.project import parse_project
    from curation.stages.shards import scatter_unit, write_on_engine, write_unit

    work = Path(args.work)
    engine = args.child
    plan = make_plan(Path(args.corpus), work, args.memory_mb, args.shard_mb, engine)
    raw = {
        "corpus": {"uri": args.corpus},
        "run": {"memory_limit_mb": args.memory_mb, "engine": plan.engine},
        "ray": {"address": args.address or None, "shuffle": engine.removeprefix("ray-")}
        if plan.engine == "ray"
        else {},
        "recipes": [{"name": "bench", "method": "random"}],
    }
    project = parse_project(raw)
    started = time.perf_counter()
    if plan.engine == "ray":
        infos = list(write_on_engine(project, plan, log=lambda m: None).written)
    else:
        for group in range(plan.scatter_units):
            scatter_unit(plan, group)
        infos = [i for g in range(plan.write_units) for i in write_unit(plan, g)]
    wall = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_SELF)
    infos.sort(key=lambda i: i["first_position"])
    for path in (plan.out, plan.plan_dir, plan.spill):
        shutil.rmtree(path, ignore_errors=True)
    print(
        json.dumps(
            {
                "wall_s": wall,
                "cpu_self_s": usage.ru_utime + usage.ru_stime,
                "shards": len(infos),
                "sha256": [i["sha256"] for i in infos],
            }
        )
    )


def run_child(engine: str, args, address: str | None, ray_pids) -> dict:
    cmd = [
        sys.executable,
        __file__,
        "--child",
        engine,
        "--corpus",
        str(args.corpus),
        "--work",
        str(args.work),
        "--memory-mb",
        str(args.memory_mb),
        "--shard-mb",
        str(args.shard_mb),
        "--address",
        address or "",
    ]
    env = {**os.environ, "MIMALLOC_PURGE_DELAY": os.environ.get("MIMALLOC_PURGE_DELAY", "0")}
    env.pop("RAY_ADDRESS", None)
    on_ray = engine.startswith("ray")
    before = cpu_ticks(ray_pids()) if on_ray else {}  # the cluster's, before the child
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)

    def tree() -> set[int]:
        return set(descendants(proc.pid)) | (ray_pids() if on_ray else set())

    with TreeSampler(tree) as sampler:
        out, err = proc.communicate()
    wall_process = time.perf_counter() - started
    if proc.returncode:
        return {"error": (err.strip().splitlines() or ["?"])[-1][:200]}
    result = json.loads(out.strip().splitlines()[-1])
    child_pids = {proc.pid}
    sampler.ticks.update(cpu_ticks(ray_pids()) if on_ray else {})
    ray_cpu = sum(t - before.get(p, 0) for p, t in sampler.ticks.items() if p not in child_pids)
    result.update(
        wall_process_s=wall_process,
        cpu_s=result["cpu_self_s"] + ray_cpu / TICK,
        peak_tree_mb=sampler.peak / MiB,
    )
    return result


def main(args) -> None:
    from curation.engines.ray_cluster import ray_cluster
    from curation.machine import available_cores
    from curation.shards import corpus_layout

    layout = corpus_layout(str(args.corpus))
    print(
        f"corpus {args.corpus}: {layout.n_rows:,} rows, {layout.total_bytes / MiB:,.0f} MiB "
        f"uncompressed, {len(layout.files)} files; memory setting {args.memory_mb} MiB, "
        f"shards of {args.shard_mb} MiB, {available_cores()} cores",
        flush=True,
    )
    me = os.getpid()
    started = time.perf_counter()
    with ray_cluster(None, object_store_mb=args.object_store_mb) as connection:
        startup = time.perf_counter() - started
        idle = rss(set(descendants(me)) - {me}) / MiB
        print(
            f"ray start-up (a local cluster, once, not in any round): {startup:.1f} s, "
            f"{len(descendants(me)) - 1} processes, {idle:.0f} MiB resident idle",
            flush=True,
        )

        def ray_pids() -> set[int]:
            return set(descendants(me)) - {me}

        engines = ["local"] + [f"ray-{s}" for s in args.shuffle]
        results: dict[str, list[dict]] = {e: [] for e in engines}
        for r in range(args.rounds):
            order = engines if r % 2 == 0 else engines[::-1]
            for engine in order:
                # a child's own process tree, so Ray's processes exclude it
                res = run_child(engine, args, connection.address, ray_pids)
                results[engine].append(res)
                show(f"round {r + 1} {engine}", res)
    report(results, engines)


def show(label: str, res: dict) -> None:
    if "error" in res:
        print(f"{label:24s} failed: {res['error']}", flush=True)
        return
    print(
        f"{label:24s} wall {res['wall_s']:6.1f} s (process {res['wall_process_s']:5.1f} s)  "
        f"cpu {res['cpu_s']:6.1f} s  peak tree RSS {res['peak_tree_mb']:6.0f} MiB  "
        f"shards {res['shards']}",
        flush=True,
    )


def report(results: dict, engines: list[str]) -> None:
    local = results["local"]
    shas = {tuple(r["sha256"]) for rs in results.values() for r in rs if "sha256" in r}
    print(f"shard sha256s identical across engines and rounds: {len(shas) == 1}")
    for engine in engines[1:]:
        pairs = [(r, lo) for r, lo in zip(results[engine], local, strict=True) if "error" not in r]
        if not pairs:
            continue
        ratios = [r["wall_s"] / lo["wall_s"] for r, lo in pairs]
        cpu = [r["cpu_s"] / lo["cpu_s"] for r, lo in pairs]
        mem = [r["peak_tree_mb"] - lo["peak_tree_mb"] for r, lo in pairs]
        print(
            f"{engine} / local: wall {np.median(ratios):.2f}x (rounds "
            f"{', '.join(f'{x:.2f}' for x in ratios)}; goal <= 1.5x), cpu {np.median(cpu):.2f}x, "
            f"peak tree RSS {np.median(mem):+.0f} MiB (goal <= +2048 MiB)"
        )


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser()
    parser.add_argument("--child")
    parser.add_argument("--corpus")
    parser.add_argument("--work")
    parser.add_argument("--memory-mb", type=int, default=512)
    parser.add_argument("--shard-mb", type=int, default=32)
    parser.add_argument("--address", default="")
    child(parser.parse_args())
