"""One function per pipeline stage, typed refs in and out: what the orchestrated assets, the
local runner and the engines all call."""
