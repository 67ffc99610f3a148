"""Great Expectations suites behind the blocking checks: score coverage, ordering, shards.

``gx`` holds every GX call (imported lazily), ``columns`` turns ids into integer codes,
``outcome`` shapes the verdict, and each check has its own module. The verdict is always
GX's: a check passes only when every expectation of its suite succeeds. ``get_context``
also sets GX's process-wide current context; nothing here relies on it (each validation
definition belongs to its own context), and 16 checks run on 4 threads at once gave the
right verdicts.
"""

from curation.quality.coverage import check_score_coverage
from curation.quality.ordering import check_ordering
from curation.quality.outcome import (
    MAX_OFFENDERS,
    CheckOutcome,
    QualityInputError,
    outcome_metadata,
)
from curation.quality.shards import check_shards

__all__ = [
    "MAX_OFFENDERS",
    "CheckOutcome",
    "QualityInputError",
    "check_ordering",
    "check_score_coverage",
    "check_shards",
    "outcome_metadata",
]
