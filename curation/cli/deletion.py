"""The one dry-run-then-delete step of the cleaning commands (``datasets prune``,
``work clean``): say what would go unless told ``--yes``, else delete and say what went."""

from collections.abc import Callable


def dry_run_or_delete(
    what: str, would_free: int, yes: bool, delete: Callable[[], int], where: str = ""
) -> int:
    """Print the dry run (``yes`` False) or run ``delete`` (returns bytes freed); exit code 0."""
    place = f" under {where}" if where else ""
    if not yes:
        print(
            f"dry run: {what}, {would_free / 2**20:.1f} MiB would be freed{place}; "
            "rerun with --yes to delete"
        )
        return 0
    print(f"deleted {what}, {delete() / 2**20:.1f} MiB freed{place}")
    return 0
