"""``curation work clean``: remove old caches from the work area (by age), keeping what the
current materializations use; a dry run unless ``--yes``."""

import argparse

from curation.cli.deletion import dry_run_or_delete
from curation.storage.workarea import apply_clean, parse_age, plan_clean


def add_work_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("work", help="the work area's caches")
    sub = parser.add_subparsers(dest="work_command", required=True)
    p = sub.add_parser("clean", help="delete caches older than an age (a dry run first)")
    p.add_argument("--older-than", default="7d", help="age, e.g. 12h, 7d, 2w (default 7d)")
    p.add_argument("--root", help="storage root (default: storage.root of curation.yaml)")
    p.add_argument("--yes", action="store_true", help="delete (without it: a dry run)")
    p.set_defaults(func=cmd_clean)


def cmd_clean(args: argparse.Namespace) -> int:
    age = parse_age(args.older_than)
    root = args.root
    if not root:
        from curation.project import load_project

        root = load_project().storage.root
    entries = plan_clean(root, age)
    gone = [e for e in entries if not e.keep]
    by_kind: dict[str, list[int]] = {}
    for e in entries:
        counts = by_kind.setdefault(e.kind, [0, 0, 0])
        counts[0] += 1
        if not e.keep:
            counts[1] += 1
            counts[2] += e.bytes
    for kind, (n, old, size) in sorted(by_kind.items()):
        print(f"  {kind:10s} {n:4d} entries, {old:4d} to delete ({size / 2**20:.1f} MiB)")
    return dry_run_or_delete(
        f"{len(gone)} entries",
        sum(e.bytes for e in gone),
        args.yes,
        lambda: apply_clean(entries),
        where=root,
    )
