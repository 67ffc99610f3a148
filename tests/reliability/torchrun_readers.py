"""Run under torchrun (gloo, 2 ranks) by test_reader_trust.py; rank 0 writes what it saw.

Usage: torchrun --nproc_per_node 2 tests/reliability/torchrun_readers.py DATASET_URI OTHER OUT
"""

import json
import sys
from datetime import timedelta

import torch.distributed as dist

from curation.reader import OrderedDataset, PackedDataset, VersionMismatch


def gather(value) -> list:
    out = [None] * dist.get_world_size()
    dist.all_gather_object(out, value)
    return out


def main() -> None:
    uri, other, out = sys.argv[1:4]
    dist.init_process_group("gloo", timeout=timedelta(seconds=60))  # a hang fails, not waits
    rank = dist.get_rank()
    docs = OrderedDataset(uri, batch_size=4)  # no rank/world_size: the process group's
    ids = [i for batch in docs for i in batch["id"].tolist()]
    packed = PackedDataset(uri, seq_len=128)
    latest = docs.version
    # one rank names `latest`, the other the same id pinned: the job opens one version
    agreed = OrderedDataset(uri, version="latest" if rank == 0 else latest, batch_size=4)
    try:  # ... and a different pinned id is refused on every rank
        OrderedDataset(uri, version="latest" if rank == 0 else other, batch_size=4)
        mismatch = ""
    except VersionMismatch as exc:
        mismatch = str(exc)
    result = {
        "ids": gather(ids),
        "packed": gather([packed.rank, packed.world_size]),
        "agreed": gather(agreed.version),
        "mismatch": gather(mismatch),
        "latest": latest,
    }
    if rank == 0:
        json.dump(result, open(out, "w"))
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
