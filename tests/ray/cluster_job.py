"""A 3-node Ray cluster on loopback with its storage on a local S3 server, for the slow
failure tests (tests/ray/test_cluster.py). Run inside a network namespace that has only
loopback (``unshare -n``; this script brings ``lo`` up), so nothing can leave the machine.

    python tests/ray/cluster_job.py WORK {none|kill-worker|kill-head}

It starts moto (S3) in this process, a head node with no CPUs and two 1-CPU worker nodes
(``ray start --block``: each node's processes stop with its ``ray start``), writes a corpus
to S3, publishes it with ``run.engine: local`` for reference, then runs the same project with
``run.engine: ray`` against the cluster in a child driver. ``kill-worker`` SIGKILLs one worker
node's raylet once the reorder has started; ``kill-head`` the head's GCS and raylet. Prints
one JSON line: the reference and Ray version ids, the driver's exit code and stderr tail, the
versions visible under the root. Everything it started is stopped by process id at the end.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from curation.machine import descendants

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
RAY = str(Path(sys.executable).with_name("ray"))
FAKE_S3 = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
}
RECIPES = [
    {"name": "random", "method": "random"},
    {"name": "str2", "method": "str", "params": {"num_sections": 2}},
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def named(pid: int, name: str) -> list[int]:
    found = []
    for p in descendants(pid):
        try:
            with open(f"/proc/{p}/cmdline", "rb") as f:
                if name in f.read().split(b"\0")[0].decode(errors="replace"):
                    found.append(p)
        except OSError:
            pass
    return found


def kill_tree(pid: int) -> None:
    for p in reversed(descendants(pid)):
        try:
            os.kill(p, signal.SIGKILL)
        except ProcessLookupError:
            pass


def project_raw(bucket: str, engine: str, address: str | None) -> dict:
    return {
        "corpus": {"uri": f"{bucket}/corpus"},
        "scores": {"scorers": ["length"]},
        "storage": {"root": f"{bucket}/root-{engine}", "dataset_prefix": "cluster"},
        "run": {"rows_per_shard": 400, "engine": engine, "memory_limit_mb": 256},
        "ray": {"address": address, "object_store_mb": 128},
        "recipes": RECIPES,
    }


def drive(raw_json: str) -> None:
    """The driver: the whole pipeline of the project (library runner), version ids out."""
    from curation.project import parse_project
    from curation.stages.local import run_project

    project = parse_project(json.loads(raw_json))
    versions = run_project(project, say=lambda stage: print(f"stage {stage}", flush=True))
    print(json.dumps({name: v.version for name, v in versions.items()}), flush=True)


def main(work: Path, mode: str) -> dict:
    import boto3
    import pyarrow.fs as pafs
    import pyarrow.parquet as pq
    from moto.server import ThreadedMotoServer

    from tests.factories import corpus_table

    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    os.environ.update(FAKE_S3, AWS_ENDPOINT_URL=endpoint)
    boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket="cluster")
    bucket = "s3://cluster"
    from curation.storage import resolve

    table = corpus_table(6000, seed=11)
    loc = resolve(f"{bucket}/corpus")
    for i in range(3):
        part = table.slice(i * 2000, 2000)
        pq.write_table(part, f"{loc.path}/part-{i}.parquet", filesystem=loc.fs, row_group_size=250)
    assert isinstance(loc.fs, pafs.S3FileSystem)

    env = {
        **os.environ,
        "RAY_AUTH_MODE": "disabled",
        "RAY_USAGE_STATS_ENABLED": "0",
        "PYTHONPATH": str(ROOT),
    }
    env.pop("RAY_ADDRESS", None)
    nodes: list[subprocess.Popen] = []
    # short: Ray's unix socket paths live under it (at most 107 bytes)
    temp = Path(tempfile.mkdtemp(prefix="ray-", dir="/tmp"))
    out: dict = {"mode": mode, "ray_temp": str(temp)}
    try:
        # the reference: the same project on the local engine
        ref = subprocess.run(
            [sys.executable, __file__, "--drive", json.dumps(project_raw(bucket, "local", None))],
            env=env,
            capture_output=True,
            text=True,
        )
        out["local"] = None if ref.returncode else json.loads(ref.stdout.strip().splitlines()[-1])
        out["local_err"] = ref.stderr[-2000:] if ref.returncode else ""

        gcs = free_port()
        common = ["--block", "--node-ip-address=127.0.0.1", "--object-store-memory=100000000"]
        head = [RAY, "start", "--head", f"--port={gcs}", "--num-cpus=0"]
        head += ["--include-dashboard=false", f"--temp-dir={temp}"]
        logs = open(work / "nodes.log", "w")
        nodes.append(subprocess.Popen(head + common, env=env, stdout=logs, stderr=logs))
        for _ in range(2):
            time.sleep(3)
            worker = [RAY, "start", f"--address=127.0.0.1:{gcs}", "--num-cpus=1"]
            nodes.append(subprocess.Popen(worker + common, env=env, stdout=logs, stderr=logs))
        wait_for_cpus(f"127.0.0.1:{gcs}", env, 2)

        raw = project_raw(bucket, "ray", f"127.0.0.1:{gcs}")
        driver = subprocess.Popen(
            [sys.executable, __file__, "--drive", json.dumps(raw)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        lines = []
        for line in driver.stdout:
            lines.append(line)
            if line.startswith("stage shards") and mode != "none" and "killed" not in out:
                out["shards_at_kill"] = first_shards(f"{bucket}/root-ray/work/shards")
                target = nodes[1].pid if mode == "kill-worker" else nodes[0].pid
                victims = named(target, "raylet")
                if mode == "kill-head":
                    victims += named(target, "gcs_server")
                for p in victims:
                    os.kill(p, signal.SIGKILL)
                out["killed"] = len(victims)
        driver.wait(timeout=600)
        out["ray_rc"] = driver.returncode
        out["ray"] = json.loads(lines[-1]) if driver.returncode == 0 else None
        out["ray_err"] = driver.stderr.read()[-3000:]
        out["published"] = manifests(f"{bucket}/root-ray/published")
        out["committed"] = sorted(
            p for p in objects(f"{bucket}/root-ray/work/shards") if p.endswith("shards.json")
        )
        out["driver_log"] = driver_log(temp, driver.pid)
    finally:
        for node in reversed(nodes):
            kill_tree(node.pid)
            node.wait()
        server.stop()
        shutil.rmtree(temp, ignore_errors=True)
    return out


def wait_for_cpus(address: str, env: dict, cpus: int) -> None:
    code = (
        "import ray, time\n"
        f"ray.init(address={address!r}, logging_level='ERROR')\n"
        "t = time.time()\n"
        f"while ray.cluster_resources().get('CPU', 0) < {cpus} and time.time() - t < 60:\n"
        "    time.sleep(0.5)\n"
        "print(ray.cluster_resources().get('CPU', 0))\n"
        "ray.shutdown()\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    if done.returncode or float(done.stdout.strip().splitlines()[-1]) < cpus:
        raise RuntimeError(f"the cluster did not come up: {done.stderr[-2000:]}")


def first_shards(root: str, timeout: float = 120.0) -> int:
    """Wait until the first shard of the run is written (the scatter is done, the write
    tasks running, the buckets in the nodes' object stores); the shards written by then."""
    from curation.storage import resolve

    loc = resolve(root)
    selector = pafs_selector(loc.path)
    deadline = time.time() + timeout
    while time.time() < deadline:
        found = [i for i in loc.fs.get_file_info(selector) if i.path.endswith(".parquet")]
        if found:
            return len(found)
        time.sleep(0.05)
    return 0


def pafs_selector(path: str):
    import pyarrow.fs as pafs

    return pafs.FileSelector(path, recursive=True, allow_not_found=True)


def objects(root: str) -> list[str]:
    from curation.storage import resolve

    loc = resolve(root)
    infos = loc.fs.get_file_info(pafs_selector(loc.path))
    return [i.path.removeprefix(loc.path + "/") for i in infos]


def manifests(root: str) -> list[str]:
    return sorted(p for p in objects(root) if p.endswith("manifest.json"))


def driver_log(temp_dir: Path, pid: int) -> str:
    """The last lines of the driver's own Ray log (why Ray ended it, if it did)."""
    found = sorted(temp_dir.glob(f"session_*/logs/python-core-driver-*_{pid}.log"))
    return "".join(found[-1].read_text(errors="replace").splitlines(True)[-20:]) if found else ""


if __name__ == "__main__":
    if sys.argv[1] == "--drive":
        drive(sys.argv[2])
    else:
        work = Path(sys.argv[1])
        work.mkdir(parents=True, exist_ok=True)
        print(json.dumps(main(work, sys.argv[2])), flush=True)
