"""Dataset-name validation: a name becomes a path segment, so it must never escape the root."""

import re

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
MAX_NAME_LENGTH = 128


class InvalidName(ValueError):
    """A dataset (or version) name that could not be used safely as one path segment."""


def validate_dataset_name(name: str) -> str:
    """Return ``name`` unchanged, or raise :class:`InvalidName` saying why it is unsafe.

    Allowed: 1..128 characters from ``[A-Za-z0-9._-]``, starting with a letter or digit,
    so "", ".", "..", separators, control characters and hidden names are all refused.
    """
    if not isinstance(name, str):
        raise InvalidName(f"dataset name must be a string, got {type(name).__name__}")
    if not name:
        raise InvalidName("dataset name is empty")
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidName(f"dataset name is {len(name)} characters long (max {MAX_NAME_LENGTH})")
    if _NAME.fullmatch(name) is None:
        raise InvalidName(
            f"invalid dataset name {name!r}: use letters, digits, '.', '_', '-', "
            "starting with a letter or digit (no path separators or control characters)"
        )
    return name


def validate_version_id(version: str) -> str:
    """Version ids come from users on the command line too; the same rules keep them safe."""
    try:
        return validate_dataset_name(version)
    except InvalidName as exc:
        raise InvalidName(str(exc).replace("dataset name", "version id")) from None


def validate_segment(part: str, what: str = "path segment") -> str:
    """One path segment under a root: the dataset-name rules (no separators, no ``..``)."""
    try:
        return validate_dataset_name(part)
    except InvalidName as exc:
        raise InvalidName(str(exc).replace("dataset name", what)) from None
