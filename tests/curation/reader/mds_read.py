"""Read an MDS directory with mosaicml-streaming as one simulated rank; print its batches.

Runs in the separate environment that holds mosaicml-streaming (numpy<2.2), not the project's.
Usage: python mds_read.py DIR RANK WORLD BATCH NUM_CANONICAL_NODES PORT
(start every rank at once: streaming initialises a gloo process group itself)
"""

import json
import os
import sys

local, rank, world, batch, nodes, port = sys.argv[1], *map(int, sys.argv[2:7])
# the ranks of one simulated node, as torchrun would set them
os.environ.update(RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank))
os.environ.update(LOCAL_WORLD_SIZE=str(world), MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))

import importlib.util  # noqa: E402
import types  # noqa: E402

# streaming/__init__.py also imports its vision and multimodal datasets, which need a
# torchvision built for this CPU torch (none is on the index): load the package without its
# top-level __init__ and use the real streaming.base.StreamingDataset.
spec = importlib.util.find_spec("streaming")
package = types.ModuleType("streaming")
package.__path__ = list(spec.submodule_search_locations)
sys.modules["streaming"] = package

from streaming.base import StreamingDataset  # noqa: E402
from torch.utils.data import DataLoader  # noqa: E402

ds = StreamingDataset(
    local=local, shuffle=False, num_canonical_nodes=nodes, batch_size=batch, replication=None
)
out = [b["input_ids"].tolist() for b in DataLoader(ds, batch_size=batch, num_workers=0)]
print(json.dumps(out))
