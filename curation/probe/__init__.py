"""Training probes that compare data orderings: a tiny byte-level GPT trained on each
ordering's shards in order, with paired (same-seed) comparisons and a report."""

from curation.probe.model import GPT, GPTConfig
from curation.probe.train import ProbeConfig, ProbeJob, ProbeResult, run_probes, train_probe

__all__ = [
    "GPT",
    "GPTConfig",
    "ProbeConfig",
    "ProbeJob",
    "ProbeResult",
    "run_probes",
    "train_probe",
]
