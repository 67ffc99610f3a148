"""Shared pytest configuration: fixtures live in small plugin modules under tests/."""

import os

os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("TQDM_DISABLE", "1")

pytest_plugins = ["tests.s3fixture"]
