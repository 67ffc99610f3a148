"""Where stage work runs: local processes (the default) or a Ray cluster."""
