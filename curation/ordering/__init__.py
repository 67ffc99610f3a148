"""Orderings: the engine (baselines, folding, zig-zag, JIT, STR, SAW in one readable file),
the guideline metrics and the ordering table written for the shard stage."""
