"""Built-in scoring on Ray: a Ray Data ``map_batches`` over the corpus's row groups, scored
by a pool of actors that each receive the fitted scorers once.

The units are the local path's (:func:`curation.scores.units.parquet_row_groups`): each
actor reads its row groups itself, checks the texts exactly as the local workers do and
scores them with the same scorer objects, so the scores are the same floats. They come back
tagged with their row group's index and are put in corpus order by it, so the score table
(and the coverage join on it) is the one the local engine builds.
"""

from collections.abc import Callable, Sequence

import numpy as np

from curation.engines.ray_cluster import import_ray
from curation.scores.units import RowGroup, read_row_group

UNIT = "__unit"


class ScoreActor:
    """One actor of the pool: the fitted scorers and the unit list, received once."""

    def __init__(self, scorers, units):
        import ray  # references (Ray Data passes constructor arguments as they are)

        self.scorers: list = ray.get(scorers)
        self.units: list[RowGroup] = ray.get(units)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        tags, columns = [], {s.name: [] for s in self.scorers}
        for index in batch["unit"].tolist():  # row groups of this batch, not documents
            for text in read_row_group(self.units[index]):
                tags.append(np.full(len(text), index, dtype=np.int64))
                for scorer in self.scorers:
                    columns[scorer.name].append(np.asarray(scorer.score(text), np.float64))
        out = {name: _cat(parts, np.float64) for name, parts in columns.items()}
        return {UNIT: _cat(tags, np.int64), **out}


def _cat(parts: list[np.ndarray], dtype) -> np.ndarray:
    return np.concatenate(parts) if parts else np.zeros(0, dtype)


def score_units_on_ray(
    units: Sequence[RowGroup],
    scorers: Sequence,
    on_batch: Callable[[int], None] = lambda n: None,
    *,
    actors: int,
    num_gpus: float = 0.0,
) -> dict[str, np.ndarray]:
    """One float64 array per scorer, in corpus order (units in order, rows in order)."""
    import_ray()  # a clear error when Ray is not installed
    import ray
    import ray.data

    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False
    ctx.execution_options.preserve_order = True
    items = [{"unit": i} for i in range(len(units))]
    ds = ray.data.from_items(items, override_num_blocks=max(1, len(units)))
    scored = ds.map_batches(
        ScoreActor,
        # one reference each, fetched once per actor (the fitted scorers can be large)
        fn_constructor_args=(ray.put(list(scorers)), ray.put(list(units))),
        batch_size=1,
        batch_format="numpy",
        compute=ray.data.ActorPoolStrategy(size=max(1, min(actors, len(units)))),
        num_cpus=1,
        num_gpus=num_gpus,
    )
    tags, columns = [], {s.name: [] for s in scorers}
    for batch in scored.iter_batches(batch_size=None, batch_format="pyarrow"):
        tags.append(batch.column(UNIT).to_numpy())
        for name in columns:
            columns[name].append(batch.column(name).to_numpy())
        on_batch(batch.num_rows)
    unit = _cat(tags, np.int64)
    order = np.argsort(unit, kind="stable")  # corpus order, whatever order batches came in
    return {name: _cat(parts, np.float64)[order] for name, parts in columns.items()}
