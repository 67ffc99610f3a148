"""The corpus: reading documents (parquet, jsonl, csv; local or s3://), the one id rule and
content fingerprints of rows."""
