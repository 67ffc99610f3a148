"""Small typed references that pipeline stages hand to each other, with their read helpers.

A stage never passes data, only where it is and what it is (uri, content version, a few
scalars): the data stays in Arrow/parquet on disk or S3, so nothing O(documents) travels
between stages. Every ref is a frozen dataclass that round-trips through strict JSON
(:func:`dumps` / :func:`loads`), so any orchestrator can store it.
"""

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from curation.storage import resolve


@dataclass(frozen=True)
class CorpusRef:
    """The raw corpus: location, content version and shape."""

    uri: str
    version: str
    rows: int
    files: int
    id_type: str
    id_column: str = "id"
    text_column: str = "text"
    source: str = ""  # the corpus as named in the project (``uri`` is its staged copy)
    staged: str = ""  # "converted" or "reused" when ``uri`` is a staged copy

    def read_ids(self) -> pa.Array:
        """The id column only: the one per-document array a stage holds. Its ids were found
        unique when this version was taken (``raw_corpus``), so that pass is not repeated;
        a corpus of another length than the version's is refused."""
        from curation.corpus.read import CorpusError, read_ids

        ids = read_ids(self.uri, id_column=self.id_column, check_unique=False)
        if len(ids) != self.rows:
            raise CorpusError(
                f"corpus {self.uri} has {len(ids)} rows, its version {self.version} had "
                f"{self.rows}: it changed during the run; rerun from the corpus step"
            )
        return ids


@dataclass(frozen=True)
class ScoresRef:
    """One score per corpus id, stored as parquet; ``column`` drives the ordering."""

    uri: str
    version: str
    column: str
    rows: int
    source: str
    combination: dict = field(default_factory=dict)
    corpus_version: str = ""

    def read_table(self, column: str | None = None) -> pa.Table:
        """``id`` and the driving score (or another score ``column`` of the table)."""
        loc = resolve(self.uri)
        return pq.read_table(loc.path, filesystem=loc.fs, columns=["id", column or self.column])

    def read_scores(self) -> np.ndarray:
        """The driving score column alone, in table order (float64): no ids read."""
        loc = resolve(self.uri)
        table = pq.read_table(loc.path, filesystem=loc.fs, columns=[self.column])
        return table.column(0).to_numpy().astype(np.float64, copy=False)

    @property
    def raw_columns(self) -> list[str] | None:
        """The score table's own columns (None for a ref made before they were recorded)."""
        columns = self.combination.get("columns")
        return list(columns) if columns else None


@dataclass(frozen=True)
class OrderingRef:
    """A recipe's ordering (``position -> row``, plus ids), and what produced it: a
    permutation of the corpus, or of the rows its selection kept (``selection``: rule,
    score column, applied threshold, kept and total counts; empty without one)."""

    uri: str
    recipe: str
    method: str
    params: dict
    key: str
    rows: int
    corpus_version: str
    score_version: str
    metrics: dict = field(default_factory=dict)
    curve: dict = field(default_factory=dict)
    structure: dict = field(default_factory=dict)
    warnings: tuple = ()
    override: bool = False
    selection: dict = field(default_factory=dict)

    def read_rows(self) -> np.ndarray:
        """Corpus row index at each position (int64)."""
        loc = resolve(self.uri)
        table = pq.read_table(loc.path, filesystem=loc.fs, columns=["row"])
        return table.column("row").to_numpy()

    def read_ids(self) -> pa.ChunkedArray:
        loc = resolve(self.uri)
        return pq.read_table(loc.path, filesystem=loc.fs, columns=["id"]).column("id")


@dataclass(frozen=True)
class ShardRef:
    """One written shard: where it is and what it holds."""

    path: str
    rows: int
    first_position: int
    sha256: str
    bytes: int

    def read_ids(self, column: str = "id") -> pa.ChunkedArray:
        loc = resolve(self.path)
        return pq.read_table(loc.path, filesystem=loc.fs, columns=[column]).column(column)


@dataclass(frozen=True)
class ShardSetRef:
    """A recipe's documents in order, as parquet shards; complete once committed."""

    uri: str
    recipe: str
    shards: tuple
    ordering: OrderingRef
    reused: bool = False
    engine: str = "local"  # what wrote the shards (run.engine): recorded, not in any key

    @property
    def rows(self) -> int:
        return sum(s.rows for s in self.shards)

    @property
    def bytes(self) -> int:
        return sum(s.bytes for s in self.shards)

    def read_ids(self) -> list[pa.ChunkedArray]:
        return [shard.read_ids() for shard in self.shards]


@dataclass(frozen=True)
class VersionRef:
    """A published, immutable version of a recipe's dataset."""

    dataset: str
    version: str
    uri: str
    root: str
    recipe: str
    rows: int
    moved_latest: bool = False


@dataclass(frozen=True)
class ShardPlan:
    """Where a recipe's shards go and how the work is cut into units (scatter per group of
    source files, write per group of consecutive shards); the arrays the units share live in
    ``plan_dir``. Handed from the plan step to every unit, by any engine."""

    recipe: str
    out: str
    corpus: str
    rows: int
    rows_per_shard: int
    shards: int
    shard_groups: int
    file_groups: tuple
    memory_limit: int
    plan_dir: str
    spill: str
    reused: bool
    engine: str = "local"  # run.engine: where the units run (the bytes are the same)
    written: tuple = ()  # shard infos when the engine wrote the set in the plan step (Ray)

    @property
    def scatter_units(self) -> int:
        return 0 if self.reused or self.written else len(self.file_groups)

    @property
    def write_units(self) -> int:
        return 0 if self.reused or self.written else self.shard_groups


_TYPES = {
    cls.__name__: cls
    for cls in (CorpusRef, ScoresRef, OrderingRef, ShardRef, ShardSetRef, VersionRef, ShardPlan)
}
_TAG = "__ref__"
_PLAIN = "dict"  # the tag of a plain mapping whose own keys include the tag


def _encode(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and type(value).__name__ in _TYPES:
        fields = {f.name: _encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
        return {_TAG: type(value).__name__, **fields}
    if isinstance(value, dict):
        encoded = {str(k): _encode(v) for k, v in value.items()}
        return {_TAG: _PLAIN, "items": encoded} if _TAG in encoded else encoded
    if isinstance(value, (list, tuple)):
        return [_encode(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def _decode(value: Any) -> Any:
    if isinstance(value, dict):
        kind = value.get(_TAG)
        if kind == _PLAIN:  # plain data that itself has the tag as a key
            return {k: _decode(v) for k, v in value["items"].items()}
        decoded = {k: _decode(v) for k, v in value.items() if k != _TAG}
        if kind is None:
            return decoded
        cls = _TYPES[kind]
        tuples = {f.name for f in dataclasses.fields(cls) if f.type is tuple}
        return cls(**{k: tuple(v) if k in tuples else v for k, v in decoded.items()})
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value


def dumps(value: Any) -> str:
    """Strict JSON (no NaN/Infinity) of a ref, or of plain data holding refs."""
    return json.dumps(_encode(value), sort_keys=True, allow_nan=False)


def loads(text: str | bytes) -> Any:
    return _decode(json.loads(text))
