"""Shared pieces of the reliability suite: test data, a library-only pipeline, secret scans.

The pipeline here is the same chain of library calls the Dagster assets make (read ids,
import and align scores, order, write shards, publish), so a subprocess can run it alone
and be killed at any point without Dagster in the way. ``job.py`` is its command line.
"""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
JOB = Path(__file__).with_name("job.py")


# ---------------------------------------------------------------- the library pipeline


def run_library_pipeline(
    corpus: str,
    scores: str,
    work: str,
    root: str,
    dataset: str,
    method: str = "str",
    seed: int = 0,
    rows_per_shard: int = 500,
    say=lambda phase: None,
) -> str:
    """One recipe through every production stage without an orchestrator
    (:func:`curation.stages.local.run_recipe`: content addressing, blocking checks, split
    shard units, publishing), work files under ``work``, the version under ``root/dataset``;
    returns the version id."""
    from curation.project import parse_project
    from curation.stages.local import run_recipe

    project = parse_project(
        {
            "corpus": {"uri": corpus},
            "scores": {"uri": scores, "columns": ["quality"]},
            "storage": {"root": work, "published": root},
            "run": {"rows_per_shard": rows_per_shard},
            "recipes": [{"name": dataset, "method": method, "params": {"seed": seed}}],
        },
        source="reliability job",
    )
    version = run_recipe(project, dataset, say=say).version
    say("done")
    return version


def job_command(
    corpus: str,
    scores: str,
    work: str,
    root: str,
    dataset: str,
    method: str = "str",
    seed: int = 0,
    rows_per_shard: int = 500,
) -> list[str]:
    """The argv that runs :func:`run_library_pipeline` in a fresh interpreter."""
    return [
        sys.executable,
        str(JOB),
        "--corpus",
        corpus,
        "--scores",
        scores,
        "--work",
        work,
        "--root",
        root,
        "--dataset",
        dataset,
        "--method",
        method,
        "--seed",
        str(seed),
        "--rows-per-shard",
        str(rows_per_shard),
    ]


def job_env(**overrides: str) -> dict:
    """Environment for a job subprocess: the repo importable, no progress bars."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env["TQDM_DISABLE"] = "1"
    env.update(overrides)
    return env


def run_job(
    argv: list[str], env: dict | None = None, cwd: str | None = None, timeout: float = 120
) -> str:
    """Run a job to completion; return the version id it printed (raise with its stderr)."""
    proc = subprocess.run(
        argv, env=env or job_env(), cwd=cwd, capture_output=True, text=True, timeout=timeout
    )
    if proc.returncode != 0:
        raise AssertionError(f"job failed ({proc.returncode}): {proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])["version"]


# ---------------------------------------------------------------- published state


def visible_state_problems(root: str) -> list[str]:
    """Everything a reader can see under ``root`` must be whole: every listed version
    verifies, and every ``latest`` pointer names a committed, verifying version."""
    from curation import publish

    problems = []
    for dataset in publish.list_datasets(root):
        for v in publish.list_versions(root, dataset):
            problems += [
                f"{dataset}/{v.version}: {p}"
                for p in publish.verify_version(root, dataset, v.version)
            ]
    for pointer in Path(root).glob("*/latest.json"):
        dataset = pointer.parent.name
        try:
            version = publish.resolve_version(root, dataset)
            publish.read_manifest(root, dataset, version)
        except (ValueError, OSError) as exc:
            problems.append(f"{dataset}: latest pointer is invalid: {exc}")
    return problems


def cli_verify(root: str, dataset: str, version: str = "latest") -> subprocess.CompletedProcess:
    """``curation datasets verify`` through the installed console script."""
    script = Path(sys.executable).with_name("curation")
    return subprocess.run(
        [str(script), "datasets", "verify", "--root", root, dataset, version],
        capture_output=True,
        text=True,
        env=job_env(),
        timeout=120,
    )


# ---------------------------------------------------------------- secrets


SECRET_PATTERNS = {
    "aws_access_key_id": re.compile(r"\b(AKIA|ASIA)[0-9A-Z]{16}\b"),
    "aws_secret_access_key": re.compile(
        r"(?i)aws_?secret_?access_?key['\"]?\s*[:=]\s*['\"]?(?![$<{])[A-Za-z0-9/+]{20,}"
    ),
    "private_key": re.compile(
        r"-----BEGIN (RSA |EC |DSA |OPENSSH |ENCRYPTED |PGP )?PRIVATE KEY"
        r"( BLOCK)?-----"
    ),
    "password_in_url": re.compile(
        r"\b[a-z][a-z0-9+.-]*://[^\s/:@'\"]+:(?![$<{*])([^\s@/'\"]{3,})@[^\s/'\"]+"
    ),
    "config_password": re.compile(
        r"(?im)^[ \t\"']*[\w.-]*passw(or)?d[\"']?[ \t]*[:=][ \t]*[\"']?"
        r"(?![$<{%]|env\b|true\b|false\b|null\b|none\b)[^\s\"'#(),]{4,}(?=[\s\"',]|$)"
    ),
}


def find_secrets(text: str) -> list[str]:
    """Names and snippets of secret-looking strings in ``text``."""
    hits = []
    for name, pattern in SECRET_PATTERNS.items():
        for match in pattern.finditer(text):
            hits.append(f"{name}: {match.group(0)[:60]}")
    return hits


def tracked_files() -> list[Path]:
    out = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True)
    return [REPO / name for name in out.stdout.decode().split("\0") if name]
