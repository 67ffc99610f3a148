"""One schema for a corpus staged from many files: unify in file order, conform tables.

Each chunk of a JSON lines file is typed by what it holds, so one file may give an
``int64`` field where another gives ``double``, a ``null`` column where another has strings,
or a struct with fewer fields. Unification (pyarrow's permissive rules: ints widen to
floats, nulls take any type, structs gain fields) is done over the parts in file order, so
field order is the order fields first appear, and the result does not depend on how the
files were chunked. Types that do not widen into each other (a number here, a string there)
are refused, naming the field, the files and their lines.
"""

from dataclasses import dataclass

import pyarrow as pa

from curation.corpus.read import CorpusError


class SchemaConflict(CorpusError):
    """Two parts of a corpus give one field types that do not unify."""


@dataclass(frozen=True)
class Part:
    """A run of rows with one schema: a staged part file, or a chunk about to join one."""

    name: str
    uri: str  # the source file
    schema: pa.Schema
    rows: int
    first_line: int
    last_line: int = 0

    def where(self) -> str:
        span = f"{self.first_line}-{self.last_line}" if self.last_line else f"{self.first_line}"
        return f"{self.uri} (lines {span})"


def unify_parts(parts: list[Part]) -> pa.Schema:
    """The one schema every part conforms to; :class:`SchemaConflict` names the clash."""
    try:
        return pa.unify_schemas([p.schema for p in parts], promote_options="permissive")
    except (pa.ArrowTypeError, pa.ArrowInvalid) as exc:
        raise _conflict(parts, exc) from None


def _conflict(parts: list[Part], exc: Exception) -> SchemaConflict:
    """Find the first field whose type does not unify with what came before it."""
    seen: dict[str, tuple[pa.Field, Part]] = {}
    for part in parts:
        for field in part.schema:
            first = seen.get(field.name)
            if first is None:
                seen[field.name] = (field, part)
                continue
            try:
                merged = pa.unify_schemas(
                    [pa.schema([first[0]]), pa.schema([field])], promote_options="permissive"
                )
                seen[field.name] = (merged.field(field.name), first[1])
            except (pa.ArrowTypeError, pa.ArrowInvalid):
                return SchemaConflict(
                    f"field {field.name!r} is {first[0].type} in {first[1].where()} but "
                    f"{field.type} in {part.where()}; a column must have one type across the "
                    "corpus (quote numbers that are ids, keep one shape per field)"
                )
    return SchemaConflict(f"the corpus files' schemas do not unify: {exc}")


def conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """``table`` with exactly ``schema``'s fields, in its order: columns cast (widened),
    missing columns (and struct fields) filled with nulls."""
    if table.schema.equals(schema):
        return table
    columns = [
        table.column(f.name).cast(f.type)
        if f.name in table.column_names
        else pa.nulls(table.num_rows, f.type)
        for f in schema
    ]
    return pa.Table.from_arrays(columns, schema=schema)
