"""The one exception type for bad score tables, carrying what a UI or a test needs."""

MAX_IDS = 10


class ScoreError(ValueError):
    """A score table that cannot drive an ordering.

    ``problem`` is a short machine-readable tag (e.g. ``"unknown_ids"``), ``column`` the
    column at fault (or None) and ``ids`` up to 10 offending ids.
    """

    def __init__(
        self, problem: str, message: str, column: str | None = None, ids: list | None = None
    ):
        self.problem = problem
        self.column = column
        self.ids = list(ids or [])[:MAX_IDS]
        where = f" [column {column!r}]" if column is not None else ""
        shown = f"; ids: {self.ids!r}" if self.ids else ""
        super().__init__(f"{problem}{where}: {message}{shown}")
