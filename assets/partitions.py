"""Recipes as partitions: one node per stage in the graph, one partition per recipe."""

import hashlib
import re

from dagster import BackfillPolicy, StaticPartitionsDefinition

from curation.project import Project

#: a whole refresh (or "Materialize all") is one run covering every recipe
SINGLE_RUN = BackfillPolicy.single_run()


def recipe_partitions(project: Project) -> StaticPartitionsDefinition:
    return StaticPartitionsDefinition(project.recipe_names)


def mapping_key(recipe: str, *parts: object) -> str:
    """A Dagster-safe dynamic mapping key for a recipe (names may hold '-' and '.')."""
    safe = re.sub(r"[^A-Za-z0-9_]", "_", recipe)
    digest = hashlib.sha256(recipe.encode()).hexdigest()[:6]  # keeps 'a-b' and 'a_b' apart
    return "_".join([safe, digest, *map(str, parts)])
