"""Sample scores: import external score tables, check coverage, combine, built-in scorers."""

from curation.scores.combine import combine_scores
from curation.scores.coverage import align_scores, coverage_report
from curation.scores.errors import ScoreError
from curation.scores.importer import import_scores
from curation.scores.version import score_version

__all__ = [
    "ScoreError",
    "align_scores",
    "combine_scores",
    "coverage_report",
    "import_scores",
    "score_version",
]
