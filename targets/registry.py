"""Target registry: name -> factory. Adding a target is one file and one line here.

Every factory takes its parameters as keyword arguments with annotated types and defaults
(the CLI reads them from the signature: `--param dim=20`) and raises ValueError on bad values.
"""
from __future__ import annotations

from typing import Callable

from targets.base import Target
from targets.banana import banana
from targets.funnel import funnel
from targets.gaussian import gaussian
from targets.gmm40 import gmm40
from targets.ising.models import boltzmann, ising, sk
from targets.many_well import many_well
from targets.mos import mos
from targets.posteriors.models import cancer, eight_schools, eight_schools_nc, longley

TARGETS: dict[str, Callable[..., Target]] = {
    "funnel": funnel,
    "gmm40": gmm40,
    "gaussian": gaussian,
    "ising": ising,
    "sk": sk,
    "boltzmann": boltzmann,
    "eight_schools": eight_schools,
    "eight_schools_nc": eight_schools_nc,
    "cancer": cancer,
    "longley": longley,
    "many_well": many_well,
    "mos": mos,
    "banana": banana,
}


def make_target(name: str, **params) -> Target:
    """Build a registered target; unknown names raise KeyError listing the valid ones."""
    if name not in TARGETS:
        raise KeyError(f"unknown target {name!r}; valid targets: {', '.join(sorted(TARGETS))}")
    return TARGETS[name](**params)
