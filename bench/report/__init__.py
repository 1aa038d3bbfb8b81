"""Static HTML report of a results folder: per target, its leaderboard and PNG figures (`bench.report.figures`)."""
from bench.report.page import write_report

__all__ = ["write_report"]
