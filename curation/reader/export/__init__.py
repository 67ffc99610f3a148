"""Exports of a published version in formats trainers read, each keeping the global order.

* :mod:`curation.reader.export.tokens`: the packed token stream, written once (token shards plus an
  index); :class:`curation.reader.PackedDataset` reads it without re-tokenizing.
* :mod:`curation.reader.export.megatron`: Megatron-LM indexed dataset (``.bin`` / ``.idx``).
* :mod:`curation.reader.export.mds`: MosaicML Streaming MDS shards of packed sequences.
* :mod:`curation.reader.export.hf`: a Hugging Face ``datasets`` dataset on disk.
"""
