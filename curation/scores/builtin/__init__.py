"""Built-in scorers. Convention: higher score = harder / more unusual text."""

from curation.scores.builtin.compression import CompressionScorer
from curation.scores.builtin.length import LengthScorer
from curation.scores.builtin.ngram import NgramScorer
from curation.scores.builtin.rarity import RarityScorer
from curation.scores.builtin.readability import ReadabilityScorer

BUILTIN_SCORERS = (LengthScorer, CompressionScorer, ReadabilityScorer, RarityScorer, NgramScorer)

__all__ = [
    "BUILTIN_SCORERS",
    "CompressionScorer",
    "LengthScorer",
    "NgramScorer",
    "RarityScorer",
    "ReadabilityScorer",
]
