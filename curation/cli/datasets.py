"""``curation datasets list | show | verify | diff | prune``: published versions from a shell.

The root is the project's (``storage.root`` of curation.yaml, or ``$CURATION_CONFIG``'s)
``published`` directory unless ``--root`` names one. ``show`` and ``diff`` print tables;
``--json`` prints the JSON for machines. Exit codes: 0 ok, 1 ``verify`` found problems, 2 a
user error (printed as one line).
"""

import argparse
import json
import sys
from collections.abc import Sequence

from curation import publish
from curation.cli.deletion import dry_run_or_delete
from curation.warnings_capture import captured_warnings


def add_datasets_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``datasets`` and its four subcommands on an existing subparsers object."""
    parser = subparsers.add_parser("datasets", help="inspect published datasets")
    sub = parser.add_subparsers(dest="datasets_command", required=True)

    p = sub.add_parser("list", help="datasets, or the versions of one dataset")
    _root(p)
    p.add_argument("dataset", nargs="?", help="list this dataset's versions")
    p.set_defaults(func=run_datasets)

    p = sub.add_parser("show", help="a version's lineage, metrics and shards")
    _root(p)
    p.add_argument("dataset")
    p.add_argument("version", nargs="?", default="latest", help="version id (default: latest)")
    p.add_argument("--json", action="store_true", help="the manifest as JSON")
    p.set_defaults(func=run_datasets)

    p = sub.add_parser("verify", help="check checksums, row counts and order against the manifest")
    _root(p)
    p.add_argument("dataset")
    p.add_argument("version", nargs="?", default="latest", help="version id (default: latest)")
    p.set_defaults(func=run_datasets)

    p = sub.add_parser("diff", help="what changed between two versions")
    _root(p)
    p.add_argument("dataset")
    p.add_argument("a", metavar="OLD", help="the version to compare from (an id, or latest)")
    p.add_argument(
        "b",
        metavar="NEW",
        nargs="?",
        default="latest",
        help="the version to compare to (default: latest)",
    )
    p.add_argument("--json", action="store_true", help="the full difference as JSON")
    p.set_defaults(func=run_datasets)

    p = sub.add_parser("prune", help="delete old versions (latest and pinned ones are kept)")
    _root(p)
    p.add_argument("dataset", nargs="*", help="only these datasets (default: all)")
    p.add_argument("--keep", type=int, required=True, help="newest versions kept per dataset")
    p.add_argument(
        "--pin",
        action="append",
        default=[],
        metavar="VERSION",
        help="never delete this version id (repeatable; e.g. one a training job reads)",
    )
    p.add_argument("--yes", action="store_true", help="delete (without it: a dry run)")
    p.set_defaults(func=run_datasets)
    return parser


def _root(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--root",
        help="published root: a local path or s3://bucket/prefix (default: curation.yaml's "
        "storage.published, else <storage.root>/published)",
    )


def published_root(args: argparse.Namespace) -> str:
    """``--root``, else the project file's published directory."""
    if getattr(args, "root", None):
        return args.root
    from curation.project import load_project

    return load_project().published_root


def run_datasets(args: argparse.Namespace) -> int:
    """Dispatch one subcommand; expected failures print one line and return 2."""
    handlers = {"list": _list, "show": _show, "verify": _verify, "diff": _diff, "prune": _prune}
    try:
        args.root = published_root(args)
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


def _table(rows: list[tuple[str, ...]], header: tuple[str, ...] | None = None) -> None:
    """Rows as left-aligned columns."""
    lines = [header, *rows] if header else rows
    widths = [max(len(str(r[i])) for r in lines) for i in range(len(lines[0]))]
    for row in lines:
        print("  ".join(str(v).ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())


def _value(v) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, (dict, list)):
        return json.dumps(v, sort_keys=True)
    return str(v)


def _show(args: argparse.Namespace) -> int:
    version = publish.open_version(args.root, args.dataset, args.version)
    manifest = version.manifest
    if args.json:
        print(json.dumps(manifest, indent=2))
        return 0
    lineage = manifest.get("lineage", {})
    shards = manifest.get("shards", [])
    rows = [
        ("dataset", args.dataset),
        ("version", version.version),
        ("published", publish.published_at(version.uri, manifest) or "?"),
        ("rows", f"{manifest.get('num_rows', 0):,}"),
        ("shards", f"{len(shards)} ({sum(s.get('bytes', 0) for s in shards) / 2**20:.1f} MiB)"),
    ]
    rows += [(f"lineage.{k}", _value(v)) for k, v in sorted(lineage.items())]
    rows += [(f"metric.{k}", _value(v)) for k, v in sorted(manifest.get("metrics", {}).items())]
    _table(rows)
    return 0


def _verify(args: argparse.Namespace) -> int:
    version = publish.resolve_version(args.root, args.dataset, args.version)
    problems = publish.verify_version(args.root, args.dataset, version)
    for p in problems:
        print(f"problem: {p}")
    print(f"{args.dataset}/{version}: " + (f"{len(problems)} problem(s)" if problems else "ok"))
    return 1 if problems else 0


def _diff(args: argparse.Namespace) -> int:
    diff = publish.diff_versions(args.root, args.dataset, args.a, args.b)
    if args.json:
        print(json.dumps(diff, indent=2))
        return 0
    print(f"{args.dataset}: {diff['a']} -> {diff['b']}")
    rows = [("rows", _value(diff["rows"]["a"]), _value(diff["rows"]["b"]))]
    for section in ("lineage", "metrics"):
        rows += [
            (f"{section}.{k}", _value(v["a"]), _value(v["b"])) for k, v in diff[section].items()
        ]
    _table(rows, ("what", "old", "new"))
    moved = diff["positions"]
    print(
        f"ids only in old: {diff['ids_only_in_a']['count']}, only in new: "
        f"{diff['ids_only_in_b']['count']}; documents moved: {moved.get('moved', 0)} of "
        f"{moved.get('common', 0)}"
    )
    return 0


def _prune(args: argparse.Namespace) -> int:
    from curation.publish.retention import apply_prune, plan_prune

    items = plan_prune(args.root, args.keep, args.dataset or None, frozenset(args.pin))
    gone = [i for i in items if not i.keep]
    rows = [
        (
            i.dataset,
            i.version,
            i.published_at or "?",
            f"{i.bytes / 2**20:.1f} MiB",
            "keep" if i.keep else "DELETE",
            i.reason,
        )
        for i in items
    ]
    if rows:
        _table(rows, ("dataset", "version", "published", "size", "action", "why"))
    return dry_run_or_delete(
        f"{len(gone)} version(s)",
        sum(i.bytes for i in gone),
        args.yes,
        lambda: apply_prune(args.root, items),
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Stand-alone entry (``python -m curation.cli.datasets datasets ...``)."""
    parser = argparse.ArgumentParser(prog="curation")
    add_datasets_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
