"""The columns the pipeline adds to every shard, under names no corpus column may have.

A published shard holds every corpus column exactly as the corpus has it (name, type,
nesting, dictionaries, timestamps), plus these. Their names share one reserved prefix, and
a corpus with a column under that prefix is refused before any work (naming the columns),
so a corpus that carries its own ``score``, ``int_score`` or ``position`` (FineWeb-Edu
does) publishes as it is.
"""

#: Every column the pipeline adds starts with this; corpus columns may not.
RESERVED_PREFIX = "_curation_"
#: The row's place in the published order: 0, 1, 2, ... across the shards (int64).
POSITION = "_curation_position"
#: The score that drove the ordering at that place (float64; combined when several).
SCORE = "_curation_score"
ADDED = (POSITION, SCORE)


def reserved_names(names: list[str]) -> list[str]:
    """The names in ``names`` that fall under the reserved prefix."""
    return [n for n in names if n.startswith(RESERVED_PREFIX)]
