"""The Dagster layer: thin assets over the curation library, one module per pipeline stage."""
