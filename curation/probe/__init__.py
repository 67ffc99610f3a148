"""Training probes that compare data orderings: a small GPT trained on each recipe's
shards in order, one (recipe, seed) run at a time, compared paired by seed."""
