"""Run under torchrun (gloo): each rank packs, steps are gathered; rank 0 writes the result.

Usage: torchrun --nproc_per_node W tests/curation/reader/torchrun_packed.py URI OTHER_VERSION OUT
"""

import json
import sys

import torch
import torch.distributed as dist

from curation.reader import PackedDataset, VersionMismatch


def main() -> None:
    uri, other_version, out = sys.argv[1:4]
    dist.init_process_group("gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    ds = PackedDataset(uri, seq_len=16, rank=rank, world_size=world, batch_size=2, tail="pad")
    tokens, steps = [], 0
    for batch in ds.loader(num_workers=1):
        ids, mask = batch["input_ids"], batch["loss_mask"].to(torch.int64)
        all_ids = [torch.zeros_like(ids) for _ in range(world)]
        all_mask = [torch.zeros_like(mask) for _ in range(world)]
        dist.all_gather(all_ids, ids)  # per-step collectives: they hang if step counts differ
        dist.all_gather(all_mask, mask)
        tokens += torch.cat(all_ids)[torch.cat(all_mask).bool()].tolist()
        steps += 1
    counts = [None] * world
    dist.all_gather_object(counts, steps)
    mismatch = ""
    try:  # each rank pinning a different version must be refused on every rank
        PackedDataset(
            uri,
            version=ds.version if rank == 0 else other_version,
            seq_len=16,
            rank=rank,
            world_size=world,
        )
    except VersionMismatch as exc:
        mismatch = str(exc)
    mismatches = [None] * world
    dist.all_gather_object(mismatches, mismatch)
    if rank == 0:
        result = {"tokens": tokens, "steps": counts, "version": ds.version, "mismatch": mismatches}
        json.dump(result, open(out, "w"))
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
