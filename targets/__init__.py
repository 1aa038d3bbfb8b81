"""What is sampled: log densities -U(x) that carry their ground truth."""

from targets.base import Modes, Statistic, Target
from targets.registry import TARGETS, make_target

__all__ = ["Modes", "Statistic", "TARGETS", "Target", "make_target"]
