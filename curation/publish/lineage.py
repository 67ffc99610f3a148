"""What a version was made from: the lineage its manifest records and its id is bound to."""

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import curation
from curation.refs import OrderingRef


@dataclass(frozen=True)
class Lineage:
    """Inputs of a published version. ``recipe`` is omitted from the manifest when unset
    (datasets published by the library outside a recipe); ``extra`` holds further keys a
    stage binds into the id (for example a selection rule)."""

    corpus_version: str
    score_version: str
    method: str
    params: dict
    seed: int | None
    code_version: str = curation.__version__
    recipe: str | None = None
    extra: dict = field(default_factory=dict)

    @classmethod
    def of(cls, ordering: OrderingRef, **extra: Any) -> "Lineage":
        """The lineage of a recipe's ordering."""
        return cls(
            corpus_version=ordering.corpus_version,
            score_version=ordering.score_version,
            method=ordering.method,
            params=dict(ordering.params),
            seed=ordering.params.get("seed"),
            recipe=ordering.recipe,
            extra=extra,
        )

    def as_dict(self) -> dict:
        """The manifest's ``lineage`` object (the form the version id hashes)."""
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        extra = out.pop("extra")
        if out["recipe"] is None:
            del out["recipe"]
        return {**out, **extra}
