"""A Hugging Face ``datasets`` dataset on disk (``load_from_disk``) of packed sequences.

Written with pyarrow alone (Arrow stream files, ``state.json``, ``dataset_info.json``), so
the library does not need ``datasets``. Row i is sequence i of the packed stream:
``input_ids`` as int32 (``List(Value('int32'), length=seq_len)``), plus ``loss_mask`` with
``tail="pad"``. The dataset keeps this order; a ``Trainer`` or sampler that shuffles does not
(docs/reader.md).
"""

import json
import os

import numpy as np
import pyarrow as pa

from curation import storage
from curation.reader.export.sequences import num_sequences, sequence_chunks
from curation.reader.export.tokens import TokenStore

_ROWS_PER_FILE = 1 << 16


def _table(tokens: np.ndarray, mask: np.ndarray | None) -> pa.Table:
    seq_len = tokens.shape[1]
    cols = {
        "input_ids": pa.FixedSizeListArray.from_arrays(tokens.astype(np.int32).ravel(), seq_len)
    }
    if mask is not None:
        cols["loss_mask"] = pa.FixedSizeListArray.from_arrays(mask.ravel(), seq_len)
    return pa.table(cols)


def export_hf(tokens_uri: str, out: str, seq_len: int, tail: str = "drop") -> str:
    """Write the packed sequences of a token export as a ``datasets`` directory ``out``."""
    store = TokenStore(tokens_uri)
    total = num_sequences(store, seq_len, tail)
    n_files = max(1, -(-total // _ROWS_PER_FILE))
    os.makedirs(out, exist_ok=True)
    names = [f"data-{i:05d}-of-{n_files:05d}.arrow" for i in range(n_files)]
    file_idx, writer, rows_in_file = 0, None, 0
    for tokens, mask in sequence_chunks(store, seq_len, tail):
        table = _table(tokens, mask)
        at = 0
        while at < table.num_rows:
            if writer is None:
                sink = pa.OSFile(os.path.join(out, names[file_idx]), "wb")
                writer, rows_in_file = pa.ipc.new_stream(sink, table.schema), 0
            take = min(_ROWS_PER_FILE - rows_in_file, table.num_rows - at)
            writer.write_table(table.slice(at, take))
            at, rows_in_file = at + take, rows_in_file + take
            if rows_in_file == _ROWS_PER_FILE:
                writer.close()
                sink.close()
                writer, file_idx = None, file_idx + 1
    if writer is not None:
        writer.close()
        sink.close()
    state = {
        "_data_files": [{"filename": n} for n in names],
        "_fingerprint": f"{store.source['version']}-{store.fingerprint}-{seq_len}-{tail}",
        "_format_columns": None,
        "_format_kwargs": {},
        "_format_type": None,
        "_output_all_columns": False,
        "_split": None,
    }
    source = {"source": store.source, "tokenizer": store.tokenizer, "seq_len": seq_len}
    info = {"description": json.dumps(source), "citation": "", "homepage": "", "license": ""}
    for name, obj in (("dataset_info.json", info), ("state.json", state)):
        storage.atomic_write(
            storage.resolve(os.path.join(out, name)), json.dumps(obj, indent=1).encode()
        )
    return out
