"""raw_corpus: the documents to order, with validated unique ids and a content version."""

from dagster import AssetExecutionContext, DataVersion, Output, asset

from assets.metadata import CODE_VERSION, OWNERS, kinds_for, location
from assets.partitions import SINGLE_RUN
from assets.quiet import our_dagster_features
from assets.resources import ProjectResource
from curation.refs import CorpusRef
from curation.stages.corpus import build_corpus


def build_corpus_asset(project):
    @asset(
        backfill_policy=SINGLE_RUN,  # lets a CLI partition range include this stage
        group_name="corpus",
        description=(
            "The raw corpus (parquet read in place; JSON lines, CSV or HF save_to_disk staged "
            "once as parquet): columns checked, ids unique, content version from its bytes."
        ),
        kinds=kinds_for(project.corpus.uri),
        owners=OWNERS,
        code_version=CODE_VERSION,
    )
    def raw_corpus(context: AssetExecutionContext, project: ProjectResource) -> Output[CorpusRef]:
        spec = project.project.corpus
        ref = build_corpus(project.project, log=context.log.info)
        context.log.info(f"corpus {ref.version}: {ref.rows} documents in {ref.files} file(s)")
        with our_dagster_features():  # data_version
            out = Output(
                ref,
                data_version=DataVersion(ref.version),
                metadata={
                    "dagster/row_count": ref.rows,
                    "corpus_version": ref.version,
                    "files": ref.files,
                    "id_type": ref.id_type,
                    "location": location(ref.uri),
                    "source": location(spec.uri),
                    "staged": ref.staged or "no (parquet, read in place)",
                },
            )
        return out

    return raw_corpus
