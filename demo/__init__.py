"""The demo: real text fetched at set-up, then the whole pipeline through ``curation run``."""
