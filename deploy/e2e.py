"""Drive the Docker stack from outside, as an operator would (run by deploy/test.sh inside a
container of our image, on the host network).

    python deploy/e2e.py seed            # bucket, a corpus of real text, score table v1
    python deploy/e2e.py wait-tick       # the sensor's first tick (it records the scores)
    python deploy/e2e.py change-scores   # a new score table: the sensor sees a new version
    python deploy/e2e.py wait-run        # the runs of the sensor's next tick, until they end
    python3 deploy/e2e.py containers INSPECT.json RUN_ID...   # one container per run and step

Data and the S3 endpoint come from the same variables the stack uses (CURATION_CORPUS,
CURATION_SCORES, AWS_ENDPOINT_URL); the webserver from CURATION_WEB_URL.
"""

import argparse
import base64
import inspect
import io
import json
import os
import sys
import time
import urllib.request
import zlib
from datetime import datetime

RUNS_QUERY = """
query Runs {
  runsOrError(limit: 50) {
    __typename
    ... on Runs {
      results {
        runId jobName status startTime endTime
        tags { key value }
        stepStats { stepKey status startTime endTime }
      }
    }
    ... on PythonError { message }
  }
}
"""
EVENTS_QUERY = """
query Failure($runId: ID!) {
  logsForRun(runId: $runId, limit: 2000) {
    ... on EventConnection {
      events {
        __typename
        ... on MessageEvent { message stepKey }
        ... on ExecutionStepFailureEvent { error { message stack } }
        ... on RunFailureEvent { error { message } }
        ... on EngineEvent { error { message } }
      }
    }
  }
}
"""
TICKS_QUERY = """
query Ticks($selector: SensorSelector!) {
  sensorOrError(sensorSelector: $selector) {
    __typename
    ... on Sensor { sensorState { status ticks(limit: 5) { status skipReason timestamp } } }
    ... on PythonError { message }
    ... on SensorNotFoundError { message }
  }
}
"""
TERMINAL = {"SUCCESS", "FAILURE", "CANCELED"}


def split_uri(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


def s3():
    import boto3

    return boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"])


def real_texts(n: int) -> list[str]:
    """Docstrings of standard-library callables: real English prose that needs no download."""
    import argparse as a
    import collections
    import email.message
    import logging
    import os as o
    import pathlib
    import shutil
    import subprocess
    import tarfile
    import zipfile

    seen: dict[str, None] = {}
    for module in (o, shutil, subprocess, logging, collections, pathlib, tarfile, zipfile, a):
        for name in sorted(dir(module)):
            doc = inspect.getdoc(getattr(module, name, None)) or ""
            if len(doc) > 200:
                seen.setdefault(doc)
    for name in sorted(dir(email.message.Message)):
        doc = inspect.getdoc(getattr(email.message.Message, name)) or ""
        if len(doc) > 200:
            seen.setdefault(doc)
    texts = list(seen)
    if len(texts) < n:
        raise SystemExit(f"e2e: only {len(texts)} documents available, asked for {n}")
    return texts[:n]


def put_parquet(uri: str, table) -> None:
    import pyarrow.parquet as pq

    buf = io.BytesIO()
    pq.write_table(table, buf)
    bucket, key = split_uri(uri)
    s3().put_object(Bucket=bucket, Key=key, Body=buf.getvalue())


def score_table(ids: list[str], texts: list[str], version: int):
    """v1: a length-based quality; v2: the same with a deterministic perturbation."""
    import numpy as np
    import pyarrow as pa

    lengths = np.array([len(t) for t in texts], dtype=np.float64)
    quality = np.log(lengths)
    if version > 1:
        quality = quality + np.random.default_rng(version).normal(0, 0.5, len(ids))
    return pa.table({"id": ids, "quality": quality})


def seed(args) -> None:
    import pyarrow as pa

    bucket, _ = split_uri(os.environ["CURATION_CORPUS"])
    client = s3()
    client.create_bucket(Bucket=bucket)
    texts = real_texts(args.docs)
    ids = [f"doc-{i:04d}" for i in range(len(texts))]
    put_parquet(os.environ["CURATION_CORPUS"], pa.table({"id": ids, "text": texts}))
    put_parquet(os.environ["CURATION_SCORES"], score_table(ids, texts, 1))
    print(f"e2e: seeded s3://{bucket}: {len(ids)} documents and score table v1")


def change_scores(args) -> None:
    import pyarrow.parquet as pq

    bucket, key = split_uri(os.environ["CURATION_CORPUS"])
    corpus = pq.read_table(io.BytesIO(s3().get_object(Bucket=bucket, Key=key)["Body"].read()))
    ids, texts = corpus.column("id").to_pylist(), corpus.column("text").to_pylist()
    put_parquet(os.environ["CURATION_SCORES"], score_table(ids, texts, args.version))
    print(f"e2e: wrote score table v{args.version} to {os.environ['CURATION_SCORES']}")


def graphql(query: str, variables: dict | None = None) -> dict:
    body = json.dumps({"query": query, "variables": variables or {}}).encode()
    request = urllib.request.Request(
        os.environ["CURATION_WEB_URL"].rstrip("/") + "/graphql",
        data=body,
        headers={"Content-Type": "application/json"},
    )
    for attempt in range(10):  # the webserver may be restarting or busy on 2 cores
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                payload = json.load(response)
            break
        except OSError:
            if attempt == 9:
                raise
            time.sleep(3)
    if payload.get("errors"):
        raise RuntimeError(f"GraphQL errors: {payload['errors']}")
    return payload["data"]


def sensor_runs() -> list[dict]:
    data = graphql(RUNS_QUERY)["runsOrError"]
    if data["__typename"] != "Runs":
        raise RuntimeError(f"runsOrError: {data}")
    runs = data["results"]
    return [r for r in runs if any(t["key"] == "dagster/sensor_name" for t in r["tags"])]


def print_failure(run_id: str) -> None:
    events = graphql(EVENTS_QUERY, {"runId": run_id})["logsForRun"].get("events", [])
    for event in events:
        error = event.get("error")
        if error:
            print(f"  {event['__typename']} {event.get('stepKey') or ''}: {error['message']}")
            if error.get("stack"):
                print("".join(error["stack"])[-2000:])


def wait_tick(args) -> None:
    """Wait until the sensor has evaluated once (its first tick records the score source)."""
    selector = {
        "repositoryLocationName": args.location,
        "repositoryName": "__repository__",
        "sensorName": args.sensor,
    }
    deadline = time.monotonic() + args.timeout
    while time.monotonic() < deadline:
        data = graphql(TICKS_QUERY, {"selector": selector})["sensorOrError"]
        if data["__typename"] != "Sensor":
            raise SystemExit(f"e2e: sensor {args.sensor}: {data}")
        ticks = [t for t in data["sensorState"]["ticks"] if t["status"] != "STARTED"]
        if ticks:
            tick = ticks[0]
            print(f"e2e: sensor {args.sensor} ticked: {tick['status']} {tick['skipReason'] or ''}")
            if tick["status"] == "FAILURE":
                sys.exit(1)
            return
        time.sleep(3)
    raise SystemExit(f"e2e: sensor {args.sensor} did not tick within {args.timeout} s")


def print_run(run: dict) -> None:
    tags = {t["key"]: t["value"] for t in run["tags"]}
    took = (run["endTime"] or time.time()) - (run["startTime"] or time.time())
    partition = tags.get("dagster/partition", "-")
    print(f"e2e: run {run['runId']} ({run['jobName']}, partition {partition}, ")
    print(f"     run key {tags.get('dagster/run_key')}): {run['status']} in {took:.0f} s")
    for step in sorted(run["stepStats"], key=lambda s: s["startTime"] or 0):
        span = (step["endTime"] or 0) - (step["startTime"] or 0)
        print(f"     {step['status']:<9} {span:6.1f} s  {step['stepKey']}")


def wait_run(args) -> None:
    """Wait for the runs one sensor tick requested (one per recipe partition, or one in all):
    the first runs not in --seen, until every one has ended and no further one appeared."""
    seen = {r for r in args.seen.split(",") if r}
    deadline = time.monotonic() + args.timeout
    fresh: list[dict] = []
    settled_since = None
    while time.monotonic() < deadline:
        fresh = [r for r in sensor_runs() if r["runId"] not in seen]
        done = fresh and all(r["status"] in TERMINAL for r in fresh)
        if done:
            settled_since = settled_since or time.monotonic()
            if time.monotonic() - settled_since >= args.settle:
                break
        else:
            settled_since = None
        time.sleep(5)
    if not fresh:
        raise SystemExit(f"e2e: no sensor run appeared within {args.timeout} s")
    for run in reversed(fresh):
        print_run(run)
    failed = [r for r in fresh if r["status"] != "SUCCESS"]
    for run in failed:
        if run["status"] not in TERMINAL:
            print(f"e2e: run {run['runId']} still {run['status']} after {args.timeout} s")
        print_failure(run["runId"])
    if failed:
        sys.exit(1)


def _time(stamp: str) -> float:
    """Docker's RFC 3339 timestamps (nanoseconds, Z) as epoch seconds."""
    head, _, frac = stamp.rstrip("Z").partition(".")
    return datetime.fromisoformat(head + "+00:00").timestamp() + float("0." + (frac or "0"))


def _step_args(cmd: list[str]) -> str:
    """The step's arguments as text: `dagster api execute_step` gets them as zlib+base64 JSON."""
    if "--compressed-input-json" in cmd:
        blob = cmd[cmd.index("--compressed-input-json") + 1]
        return zlib.decompress(base64.b64decode(blob)).decode()
    return " ".join(cmd)


def containers(args) -> None:
    """From `docker inspect` output: each run had its own container, and each step of it one
    more container of its own (docker_executor), at least two of them running at once."""
    with open(args.inspect_json) as f:
        inspected = json.load(f)
    problems = []
    for run_id in args.run_ids:
        run_containers = [
            c for c in inspected if c["Config"]["Labels"].get("dagster/run_id") == run_id
        ]
        steps = {}
        for c in inspected:
            env = dict(e.split("=", 1) for e in c["Config"]["Env"] or [])
            if "DAGSTER_RUN_STEP_KEY" in env and run_id in _step_args(c["Config"]["Cmd"] or []):
                state = c["State"]
                span = (_time(state["StartedAt"]), _time(state["FinishedAt"]), state["ExitCode"])
                steps.setdefault(env["DAGSTER_RUN_STEP_KEY"], []).append((c["Id"][:12], *span))
        overlaps = (
            sum(
                1
                for a in steps.values()
                for b in steps.values()
                if a is not b and a[-1][1] < b[-1][2] and b[-1][1] < a[-1][2]
            )
            // 2
        )
        ids = {entry[0] for entries in steps.values() for entry in entries}
        print(
            f"e2e: run {run_id}: {len(run_containers)} run container, {len(steps)} steps in "
            f"{len(ids)} step containers, {overlaps} pairs of steps ran at the same time"
        )
        failed = [k for k, v in steps.items() if v[-1][3] != 0]
        if len(run_containers) != 1:
            problems.append(f"run {run_id}: {len(run_containers)} run containers, expected 1")
        if len(steps) < 2 or len(ids) < len(steps):
            problems.append(f"run {run_id}: steps did not run in containers of their own")
        if overlaps < 1:
            problems.append(f"run {run_id}: no two step containers ran at the same time")
        if failed:
            problems.append(f"run {run_id}: step containers exited non-zero: {failed}")
    if problems:
        raise SystemExit("e2e: " + "; ".join(problems))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("seed")
    p.add_argument("--docs", type=int, default=120)
    p.set_defaults(func=seed)
    p = sub.add_parser("change-scores")
    p.add_argument("--version", type=int, default=2)
    p.set_defaults(func=change_scores)
    p = sub.add_parser("wait-tick")
    p.add_argument("--sensor", default="refresh_sensor")
    p.add_argument("--location", default="curation")
    p.add_argument("--timeout", type=float, default=300)
    p.set_defaults(func=wait_tick)
    p = sub.add_parser("wait-run")
    p.add_argument("--seen", default="", help="comma-separated run ids to ignore")
    p.add_argument("--timeout", type=float, default=900)
    p.add_argument("--settle", type=float, default=20, help="seconds with no new run")
    p.set_defaults(func=wait_run)
    p = sub.add_parser("containers", help="check `docker inspect` JSON of the stack's containers")
    p.add_argument("inspect_json")
    p.add_argument("run_ids", nargs="+")
    p.set_defaults(func=containers)
    args = parser.parse_args()
    args.func(args)


if __name__ == "__main__":
    main()
