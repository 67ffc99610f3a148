"""No credentials in code, config files or docs; S3 credentials only from the environment.

The pipeline's run logs and asset metadata are scanned in ``test_pipeline_bad_input.py``
(a real Dagster run with canary credentials in its environment).
"""

import ast
from pathlib import Path

import pytest

from tests.reliability.helpers import REPO, SECRET_PATTERNS, find_secrets, tracked_files

PLANTED = {
    "aws_access_key_id": "key = 'AKIA" + "ABCDEFGHIJKLMNOP'",
    "aws_secret_access_key": "aws_secret_access_key = " + "wJalrXUtnFEMI/K7MDENG/bPxRfiCY",
    "private_key": "-----BEGIN RSA " + "PRIVATE KEY-----\nMIIEow...",
    "password_in_url": "postgresql://dagster:" + "hunter2pw@db.internal:5432/dagster",
    "config_password": "\n".join(["db:", "  password: hunter2pw"]),
}
HARMLESS = [
    "AWS_SECRET_ACCESS_KEY=${AWS_SECRET_ACCESS_KEY}",
    'AWS_SECRET_ACCESS_KEY": "testing"',
    "postgresql://user:$DAGSTER_PG_PASSWORD@host/db",
    "password:\n  env: DAGSTER_PG_PASSWORD",
    "https://example.com/path",
]
CREDENTIAL_KWARGS = {
    "access_key",
    "secret_key",
    "session_token",
    "aws_access_key_id",
    "aws_secret_access_key",
    "aws_session_token",
    "password",
    "token",
}
ENV_READERS = {"EnvVar", "getenv", "get"}  # dagster.EnvVar, os.getenv, os.environ.get


@pytest.mark.parametrize("kind", sorted(PLANTED))
def test_scanner_finds_each_kind_of_secret(kind):
    assert kind in SECRET_PATTERNS
    assert any(hit.startswith(kind) for hit in find_secrets(PLANTED[kind]))


@pytest.mark.parametrize("text", HARMLESS)
def test_scanner_ignores_references_and_test_placeholders(text):
    assert find_secrets(text) == []


def test_no_secrets_in_tracked_files():
    hits = []
    for path in tracked_files():
        if not path.is_file():
            continue
        text = path.read_bytes().decode("utf-8", errors="replace")
        if path.name == "test_secrets.py":  # holds the planted examples, split so none match
            assert find_secrets(text) == []
        hits += [f"{path.relative_to(REPO)}: {h}" for h in find_secrets(text)]
    assert hits == []


def _is_env_read(node: ast.expr) -> bool:
    if isinstance(node, ast.Constant) and node.value is None:
        return True
    if isinstance(node, ast.Call):
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        return name in ENV_READERS
    if isinstance(node, ast.Subscript):  # os.environ["..."]
        return isinstance(node.value, ast.Attribute) and node.value.attr == "environ"
    return False


def test_credentials_are_only_passed_from_the_environment():
    """Any call in the library, assets or definitions that takes a credential argument gets
    it from the environment (os.environ / os.getenv / dagster.EnvVar), never a literal."""
    offenders = []
    sources = [
        *REPO.glob("curation/**/*.py"),
        *REPO.glob("assets/**/*.py"),
        REPO / "definitions.py",
    ]
    for path in sources:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not isinstance(node, ast.Call):
                continue
            for kw in node.keywords:
                if kw.arg in CREDENTIAL_KWARGS and not _is_env_read(kw.value):
                    offenders.append(f"{path.relative_to(REPO)}:{node.lineno} {kw.arg}=")
    assert offenders == []


def test_s3_filesystem_is_built_in_one_place_without_keys():
    uses = [
        p.relative_to(REPO)
        for p in REPO.glob("curation/**/*.py")
        if "S3FileSystem(" in p.read_text()
    ]
    assert uses == [Path("curation/storage/files.py")]
