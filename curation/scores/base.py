"""The scorer interface, the registry of scorers, and scoring a whole corpus in batches.

A scorer maps a batch of documents to one float64 per document, higher = harder. Scorers
that learn from data (``needs_fit = True``) are fitted on a deterministic reference split --
every ``reference_every``-th row of the corpus, up to ``reference_bytes`` of text -- before
the scoring pass.
"""

from collections.abc import Callable, Sequence
from typing import Protocol, runtime_checkable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curation.corpus.read import iter_batches, list_corpus_files, read_ids
from curation.machine import resident_bytes
from curation.scores.builtin import BUILTIN_SCORERS
from curation.scores.parallel import choose_workers, score_batches, score_units
from curation.scores.text import TextBatch
from curation.scores.units import checked_text, parquet_row_groups, read_row_group


@runtime_checkable
class Scorer(Protocol):
    name: str

    def fit(self, texts: TextBatch) -> None: ...

    def score(self, texts: TextBatch) -> np.ndarray: ...


SCORERS: dict[str, type] = {cls.name: cls for cls in BUILTIN_SCORERS}


def register_scorer(cls: type) -> type:
    """Add a scorer class to the registry (usable as a decorator)."""
    name = getattr(cls, "name", None)
    if not isinstance(name, str) or not name:
        raise ValueError(f"{cls!r} needs a non-empty string attribute 'name'")
    SCORERS[name] = cls
    return cls


def get_scorer(name: str, **kwargs) -> Scorer:
    """A new scorer instance by registry name."""
    if name not in SCORERS:
        raise ValueError(f"unknown scorer {name!r}; known: {sorted(SCORERS)}")
    return SCORERS[name](**kwargs)


def _instances(scorers: Sequence[str | Scorer]) -> list[Scorer]:
    out = [get_scorer(s) if isinstance(s, str) else s for s in scorers]
    names = [s.name for s in out]
    if len(set(names)) != len(names) or not names:
        raise ValueError(f"need one or more scorers with distinct names, got {names}")
    return out


def reference_texts(
    uri: str,
    text_column: str = "text",
    every: int = 10,
    max_bytes: int = 8 << 20,
    batch_size: int = 8192,
) -> pa.Array:
    """Every ``every``-th document (global row order), stopping after ``max_bytes``."""
    picked, size, row = [], 0, 0
    for batch in iter_batches(uri, columns=[text_column], batch_size=batch_size):
        rows = np.arange(row, row + batch.num_rows)
        row += batch.num_rows
        chosen = batch.column(0).filter(pa.array(rows % every == 0))
        picked.append(chosen)
        size += pc.sum(pc.binary_length(chosen)).as_py() or 0
        if size >= max_bytes:
            break
    return pa.concat_arrays(picked) if picked else pa.array([], pa.string())


def _corpus_bytes(uri: str) -> int:
    return sum(f.fs.get_file_info(f.path).size or 0 for f in list_corpus_files(uri))


def score_corpus(
    uri: str,
    scorer_names: Sequence[str | Scorer],
    text_column: str = "text",
    id_column: str = "id",
    batch_size: int = 8192,
    progress: bool = True,
    reference_every: int = 10,
    reference_bytes: int = 8 << 20,
    workers: int | None = None,
    memory_limit_bytes: int | None = None,
    null_texts: str = "refuse",
    engine: Callable[..., dict[str, np.ndarray]] | None = None,
) -> pa.Table:
    """Score every document: a table with ``id`` and one float64 column per scorer.

    ``workers`` processes score batches side by side (default: every core, one process for a
    small corpus, and no more than ``memory_limit_bytes`` -- the whole run's cap, less what
    this process holds -- leaves room for). Scores do not depend on the worker count.
    ``null_texts``: "refuse" (default: a null text is an error naming its ids) or "empty".
    ``engine``: ``engine(units, scorers, on_batch)`` scores the parquet row groups elsewhere
    (:func:`curation.engines.ray_scores.score_units_on_ray`) and returns one array per
    scorer in corpus order: the same units and fitted scorers, so the same table."""
    if null_texts not in ("refuse", "empty"):
        raise ValueError(f"null_texts must be 'refuse' or 'empty', got {null_texts!r}")
    from tqdm.auto import tqdm

    scorers = _instances(scorer_names)
    ids = read_ids(uri, id_column)
    if any(getattr(s, "needs_fit", False) for s in scorers):
        reference = reference_texts(uri, text_column, reference_every, reference_bytes)
        for s in scorers:
            s.fit(reference)
    n_workers = choose_workers(workers, _corpus_bytes(uri), memory_limit_bytes, resident_bytes())
    columns: dict[str, list[np.ndarray]] = {s.name: [] for s in scorers}
    units = parquet_row_groups(uri, id_column, text_column, null_texts, batch_size)
    desc = f"scoring ({n_workers} process{'es' if n_workers > 1 else ''})"
    if engine is not None and units:
        desc = "scoring (engine)"
    with tqdm(total=len(ids), unit="doc", disable=not progress, desc=desc) as bar:
        if engine is not None and units:  # parquet row groups, read where they are scored
            return pa.table({"id": ids, **engine(units, scorers, bar.update)})
        if n_workers > 1 and units:  # workers read their own row groups
            sizes = [u.rows for u in units]
            results = score_units(units, read_row_group, scorers, n_workers, sizes, bar.update)
        else:
            texts = (
                checked_text(uri, batch, text_column, null_texts)
                for batch in iter_batches(
                    uri, columns=[id_column, text_column], batch_size=batch_size
                )
            )
            results = score_batches(texts, scorers, n_workers, bar.update)
        for scores in results:
            for s, values in zip(scorers, scores, strict=True):
                columns[s.name].append(values)
    arrays = {
        name: np.concatenate(parts) if parts else np.zeros(0) for name, parts in columns.items()
    }
    return pa.table({"id": ids, **arrays})
