"""Megatron-LM indexed dataset (``<prefix>.bin`` / ``<prefix>.idx``) in published order.

Written from a token export (:mod:`curation.reader.export.tokens`): the ``.bin`` is the same token
stream (one Megatron "sequence" per document, EOT included, as ``preprocess_data.py
--append-eod`` writes it), the ``.idx`` is built from the document offsets with numpy.
Format (megatron-core 0.16.1, ``indexed_dataset.py``): ``MMIDIDX\\0\\0``, version ``<Q`` 1,
dtype code ``<B``, sequence count ``<Q``, document count ``<Q``, int32 sequence lengths,
int64 byte pointers, int64 document indices.

Megatron's ``GPTDataset`` always shuffles its document index and its sample index (there is
no flag); :func:`keep_order` patches both to the identity so its samples follow the stream.
"""

import contextlib
import struct
from collections.abc import Iterator

import numpy as np

from curation import storage
from curation.reader.export.tokens import TokenStore

_HEADER = b"MMIDIDX\x00\x00"
_DTYPE_CODES = {"uint16": 8, "int32": 4}  # Megatron has no uint32: large vocabularies use int32
_COPY_TOKENS = 1 << 24


def export_megatron(tokens_uri: str, prefix: str) -> tuple[str, str]:
    """Write ``prefix.bin`` and ``prefix.idx`` (local paths) from a token export."""
    store = TokenStore(tokens_uri)
    dtype = np.dtype("<u2") if store.dtype.itemsize == 2 else np.dtype("<i4")
    if dtype.kind == "i" and store.tokenizer["vocab_size"] > np.iinfo(np.int32).max:
        raise ValueError(f"vocabulary of {store.tokenizer_spec} does not fit Megatron's int32")
    bin_path, idx_path = prefix + ".bin", prefix + ".idx"
    with open(bin_path + ".tmp", "wb") as out:
        for lo in range(0, store.num_tokens, _COPY_TOKENS):
            hi = min(lo + _COPY_TOKENS, store.num_tokens)
            out.write(store.read(lo, hi).astype(dtype).tobytes())
    offsets = store.doc_offsets
    lengths = np.diff(offsets).astype(np.int32)
    pointers = (offsets[:-1] * dtype.itemsize).astype(np.int64)
    documents = np.arange(len(lengths) + 1, dtype=np.int64)
    header = _HEADER + struct.pack("<Q", 1) + struct.pack("<B", _DTYPE_CODES[dtype.name])
    header += struct.pack("<Q", len(lengths)) + struct.pack("<Q", len(documents))
    with open(idx_path + ".tmp", "wb") as out:
        for part in (header, lengths.tobytes(), pointers.tobytes(), documents.tobytes()):
            out.write(part)
    for path in (bin_path, idx_path):  # the pair appears complete or not at all
        storage.resolve(path).fs.move(path + ".tmp", path)
    return bin_path, idx_path


@contextlib.contextmanager
def keep_order() -> Iterator[None]:
    """Within this block megatron-core's ``GPTDataset`` builds unshuffled indices.

    Patches ``gpt_dataset._build_document_index`` (documents in file order, epoch after
    epoch) and ``gpt_dataset._build_shuffle_index`` (identity) of megatron-core 0.16.1, so
    sample i holds tokens ``[i*L, i*L + L + 1)`` of the stream. Megatron reuses indices it
    cached earlier under the same ``path_to_cache``, shuffled or not, so the indices a
    dataset ends up with (built or loaded) are checked, and a shuffled cache is refused
    naming its directory.
    """
    from megatron.core.datasets import gpt_dataset

    def documents_in_order(documents, num_epochs, numpy_random_state, separate_final_epoch):
        return np.tile(np.asarray(documents, dtype=np.int32), num_epochs)

    def identity(num_samples, total_size, numpy_random_state):
        dtype = np.uint32 if total_size < np.iinfo(np.uint32).max - 1 else np.int64
        return np.arange(total_size, dtype=dtype)

    dataset_class = gpt_dataset.GPTDataset
    build = dataset_class._build_document_sample_shuffle_indices

    def checked_indices(dataset):
        indices = build(dataset)
        document_index, _, shuffle_index = indices
        if shuffle_index is None:  # loaded lazily from the cache
            shuffle_index = np.load(dataset.path_to_shuffle_index, mmap_mode="r")
            document_index = np.load(dataset.path_to_document_index, mmap_mode="r")
        _require_in_order(document_index, shuffle_index, dataset.config.path_to_cache)
        return indices

    saved = gpt_dataset._build_document_index, gpt_dataset._build_shuffle_index
    gpt_dataset._build_document_index, gpt_dataset._build_shuffle_index = (
        documents_in_order,
        identity,
    )
    dataset_class._build_document_sample_shuffle_indices = checked_indices
    try:
        yield
    finally:
        gpt_dataset._build_document_index, gpt_dataset._build_shuffle_index = saved
        dataset_class._build_document_sample_shuffle_indices = build


class ShuffledCache(ValueError):
    """Megatron's cached indices were built shuffled: samples would not follow the stream."""


def _require_in_order(document_index, shuffle_index, cache) -> None:
    steps = np.diff(np.asarray(document_index, dtype=np.int64))
    identity = np.array_equal(np.asarray(shuffle_index), np.arange(len(shuffle_index)))
    if not identity or np.any(steps > 1):
        raise ShuffledCache(
            f"Megatron's index cache in {cache} was built shuffled (without keep_order()); "
            "point path_to_cache at a fresh directory"
        )
