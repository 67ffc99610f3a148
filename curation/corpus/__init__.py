"""The corpus: listing it (files, directories, globs, ``save_to_disk``; local or s3://),
reading documents (parquet, jsonl, csv), staging non-parquet corpora once as parquet, the
one id rule and content fingerprints of rows."""
