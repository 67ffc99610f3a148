"""Tokenizers (bytes, GPT-2 BPE) shared by the packed reader, the exports and the probes."""
