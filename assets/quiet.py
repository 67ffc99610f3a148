"""Dagster's Beta/Preview notices about features our own definitions use on purpose
(single-run backfills, partitioned checks, data versions) are not news to an operator:
they are silenced where our definitions are built and where our steps use them, and
nowhere else, so notices about anything else still show."""

import warnings
from collections.abc import Iterator
from contextlib import contextmanager

from dagster import BetaWarning, PreviewWarning


@contextmanager
def our_dagster_features() -> Iterator[None]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", BetaWarning)
        warnings.simplefilter("ignore", PreviewWarning)
        yield
