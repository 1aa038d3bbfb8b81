"""Static HTML report of a results folder: per target, its leaderboard and PNG figures (`bench.report.figures`)."""

from bench.extras import require

require("matplotlib", "report", "the report")  # the optional dependencies: a missing one names the extra
from bench.report.page import write_report  # noqa: E402

__all__ = ["write_report"]
