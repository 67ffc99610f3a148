"""The ``curation`` command line: one entry point (:mod:`curation.cli.main`), one error handler."""
