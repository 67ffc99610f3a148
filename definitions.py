"""The one Dagster Definitions object of this project (``dagster dev``, ``dagster ... -m
definitions``, the Helm chart's and the compose stack's code servers), built from curation.yaml
by :func:`assets.location.build_definitions`."""

from assets.location import build_definitions

defs = build_definitions()
