"""Publishing as a stage: a recipe's checked shard set becomes an immutable version.

The version id binds the lineage, the shard bytes and the verdicts of the checks that guard
what ships, so whoever runs the stages (the orchestrated graph or :mod:`curation.stages.local`)
publishes the same id for the same inputs.
"""

from curation.project import Project
from curation.publish import Lineage, publish_version, resolve_version
from curation.refs import ShardSetRef, VersionRef

#: the checks guarding a version, by ``asset:check`` name (the names the manifest records)
GUARDS = ("sample_scores:score_coverage", "orderings:ordering_invariants", "shards:shard_integrity")


def dataset_for(project: Project, shards: ShardSetRef) -> str:
    """The recipe's dataset, or a name that says the ordering was overridden (a launchpad
    override never moves the recipe's ``latest``)."""
    base = project.dataset_name(shards.recipe)
    if not shards.ordering.override:
        return base
    return f"{base}--override-{shards.ordering.key[:8]}"


def current_latest(root: str, dataset: str) -> str | None:
    """The version ``latest`` names now, if any."""
    try:
        return resolve_version(root, dataset)
    except Exception:  # no version yet (or a damaged pointer, rebuilt by publishing)
        return None


def publish_shard_set(
    project: Project, shards: ShardSetRef, verdicts: dict[str, dict]
) -> VersionRef:
    """Publish (or republish, unchanged) the recipe's version; ``verdicts`` maps each guard
    to ``{"passed": bool, ...}``. Raises ``PublishRefused`` unless every guard passed."""
    root = project.published_root
    dataset = dataset_for(project, shards)
    ordering = shards.ordering
    before = current_latest(root, dataset)
    version = publish_version(
        root,
        dataset,
        [s.path for s in shards.shards],
        # a selection is bound only when there is one: other recipes keep their version id
        Lineage.of(ordering, **({"selection": ordering.selection} if ordering.selection else {})),
        metrics=ordering.metrics,
        checks={k: {"passed": v["passed"], "blocking": True} for k, v in verdicts.items()},
        extra={"warnings": list(ordering.warnings), "engine": shards.engine},
    )
    return VersionRef(
        dataset=dataset,
        version=version.version,
        uri=version.uri,
        root=root,
        recipe=shards.recipe,
        rows=version.num_rows,
        moved_latest=before != version.version,
    )
