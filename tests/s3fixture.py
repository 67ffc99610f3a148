"""Placeholder plugin module; the publishing work replaces it with a real moto S3 server fixture."""
