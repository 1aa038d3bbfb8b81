"""The terminal table of a run: one row per sampler configuration, mean ± sd over seeds."""
from __future__ import annotations

import math

import numpy as np
from rich.markup import escape
from rich.table import Table

from targets.base import Target


def _fmt(values, digits: int = 3, signed: bool = False) -> str:
    vals = np.array([v for v in values if v is not None], dtype=float)
    vals = vals[np.isfinite(vals)]
    if vals.size == 0:
        return "–"
    sign = "+" if signed else ""

    def one(v):
        if v == int(v) and abs(v) < 10 ** (digits + 1):
            return f"{int(v):{sign}d}"
        if v != 0 and (abs(v) >= 10 ** (digits + 1) or abs(v) < 10 ** (-digits)):
            return f"{v:{sign}.{digits - 1}e}"
        return f"{v:{sign}.{max(0, digits - 1 - int(math.floor(math.log10(abs(v))))) if v else digits - 1}f}"

    return one(vals.mean()) + (f" ± {one(vals.std(ddof=1)).lstrip('+')}" if vals.size > 1 else "")


def worst_statistic(target: Target, records: list[dict]) -> str:
    """The statistic with the largest mean |bias| in true sds over the seeds."""
    names = [s.name for s in target.statistics]
    scores = [np.nanmean([abs(r.get(f"bias_mean_sd[{n}]", np.nan)) for r in records]) for n in names]
    return names[int(np.nanargmax(scores))]


def results_table(target: Target, groups: dict[str, list[dict]]) -> Table:
    """`groups`: sampler label -> records of its seeds (ok and failed)."""
    table = Table(title=f"{target.id}: mean ± sd over seeds", title_justify="left", caption_justify="left",
                  caption="ESS: smallest bulk ESS over the statistics; per s of sampling, of warm-up + sampling, and per "
                          "1,000 gradients (warm-up included). Worst stat: largest |E bias| in true sds; bias/MCSE: its "
                          "bias in Monte Carlo standard errors. compile s: all seeds together (compiled once, reused); "
                          "run s: warm-up + sampling per seed.")
    columns = ["sampler", "seeds ok", "ESS/s", "ESS/s incl. warm-up", "ESS/1k grads", "R-hat max",
               "worst stat", "E[stat] (truth)", "bias/MCSE", "sd[stat] (truth)", "div."]
    if target.modes is not None:
        columns += ["modes", "EMC"]
    if target.sample is not None:
        columns += ["MMD²"]
    columns += ["compile s", "run s"]
    for c in columns:
        table.add_column(escape(c), justify="left" if c in ("sampler", "worst stat") else "right",
                         no_wrap=c == "sampler")
    truth = {s.name: s for s in target.statistics}
    for label, records in groups.items():
        ok = [r for r in records if r["status"] == "ok"]
        row = [label, f"{len(ok)}/{len(records)}"]
        if not ok:
            table.add_row(*map(escape, row), *["–"] * (len(columns) - 2))
            continue
        col = lambda key: [r.get(key) for r in ok]  # noqa: E731
        stat = worst_statistic(target, ok)
        row += [_fmt(col("ess_bulk_min_per_s")), _fmt(col("ess_bulk_min_per_s_total")),
                _fmt(col("ess_bulk_min_per_1k_grads")), _fmt(col("rhat_max")), stat,
                f"{_fmt(col(f'mean[{stat}]'), signed=True)} ({truth[stat].mean:.3g})",
                _fmt(col(f"bias_mean_se[{stat}]"), 2, signed=True),
                f"{_fmt(col(f'sd[{stat}]'))} ({truth[stat].sd:.3g})",
                _fmt(col("divergences"), 2)]
        if target.modes is not None:
            row += [f"{_fmt(col('modes_visited'))}/{target.modes.count}", _fmt(col("emc"))]
        if target.sample is not None:
            row += [_fmt(col("mmd2"), 2)]
        row += [_fmt([sum(col("time_compile"))], 2), _fmt(col("time_run"), 2)]
        table.add_row(*map(escape, row))
    return table
