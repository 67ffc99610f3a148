"""``curation datasets list | show | verify | diff``: inspect published versions from a shell.

Exit codes: 0 ok, 1 ``verify`` found problems, 2 a user error (printed as one line).
"""

import argparse
import json
import sys
from collections.abc import Sequence

from curation import publish
from curation.warnings_capture import captured_warnings


def add_datasets_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``datasets`` and its four subcommands on an existing subparsers object."""
    parser = subparsers.add_parser("datasets", help="inspect published datasets")
    sub = parser.add_subparsers(dest="datasets_command", required=True)

    p = sub.add_parser("list", help="datasets, or the versions of one dataset")
    _root(p)
    p.add_argument("dataset", nargs="?", help="list this dataset's versions")
    p.set_defaults(func=run_datasets)

    p = sub.add_parser("show", help="print a version's manifest (JSON)")
    _root(p)
    p.add_argument("dataset")
    p.add_argument("version", nargs="?", default="latest")
    p.set_defaults(func=run_datasets)

    p = sub.add_parser("verify", help="check checksums, row counts and order against the manifest")
    _root(p)
    p.add_argument("dataset")
    p.add_argument("version", nargs="?", default="latest")
    p.set_defaults(func=run_datasets)

    p = sub.add_parser("diff", help="what changed between two versions")
    _root(p)
    p.add_argument("dataset")
    p.add_argument("a")
    p.add_argument("b", nargs="?", default="latest")
    p.set_defaults(func=run_datasets)
    return parser


def _root(p: argparse.ArgumentParser) -> None:
    p.add_argument("--root", required=True, help="storage root: a local path or s3://bucket/prefix")


def run_datasets(args: argparse.Namespace) -> int:
    """Dispatch one subcommand; expected failures print one line and return 2."""
    handlers = {"list": _list, "show": _show, "verify": _verify, "diff": _diff}
    try:
        return handlers[args.datasets_command](args)
    except (ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _list(args: argparse.Namespace) -> int:
    if args.dataset is None:
        with captured_warnings() as damaged:
            names = publish.list_datasets(args.root)
        for name in names:
            print(name)
        for message in damaged:
            print(f"problem: {message}", file=sys.stderr)
        return 0
    versions, damaged = publish.scan_versions(args.root, args.dataset)
    for message in damaged:
        print(f"problem: skipping damaged version: {message}", file=sys.stderr)
    if not versions:
        raise publish.NotPublished(f"dataset {args.dataset!r} has no published version")
    try:
        latest = publish.resolve_version(args.root, args.dataset, "latest")
    except (ValueError, OSError) as exc:
        print(f"problem: {exc}", file=sys.stderr)
        latest = None
    for v in versions:
        m = v.manifest
        mark = "*" if v.version == latest else " "
        print(
            f"{mark} {v.version}  {publish.published_at(v.uri, m) or '?'}  rows={m['num_rows']}  "
            f"method={m['lineage'].get('method')}  score={m['lineage'].get('score_version')}"
        )
    return 0


def _show(args: argparse.Namespace) -> int:
    print(json.dumps(publish.read_manifest(args.root, args.dataset, args.version), indent=2))
    return 0


def _verify(args: argparse.Namespace) -> int:
    version = publish.resolve_version(args.root, args.dataset, args.version)
    problems = publish.verify_version(args.root, args.dataset, version)
    for p in problems:
        print(f"problem: {p}")
    print(f"{args.dataset}/{version}: " + (f"{len(problems)} problem(s)" if problems else "ok"))
    return 1 if problems else 0


def _diff(args: argparse.Namespace) -> int:
    print(json.dumps(publish.diff_versions(args.root, args.dataset, args.a, args.b), indent=2))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Stand-alone entry (``python -m curation.cli.datasets datasets ...``)."""
    parser = argparse.ArgumentParser(prog="curation")
    add_datasets_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
