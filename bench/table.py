"""The terminal table of a run: one row per sampler configuration, mean ± sd over seeds."""

from __future__ import annotations

import math

import numpy as np
from rich.markup import escape
from rich.table import Table

from bench.columns import BY_KEY, COLUMNS, Column
from bench.metrics import truth
from bench.metrics.cost import restore_never
from bench.metrics.evidence import KHAT_MAX
from targets.base import Target

CAPTION = (
    "ESS: smallest bulk ESS over the statistics; per s of sampling, of warm-up (or training) + sampling, and "
    "per 1,000 gradients (warm-up and training included). {h}: the headline statistic; bias/MCSE its mean "
    "bias in Monte Carlo standard errors; worst: per seed the largest |bias| in true sds over the statistics, "
    "after the statistic that is worst in most seeds. "
    "R-hat max: over the statistics where it is computable (none: those where it is not, e.g. constant within "
    "every chain). compile s: all seeds together (compiled once, reused); run s: warm-up + sampling per seed. "
    "VAE samplers: KL bound = L + log Z, log Z from importance weights, normalised importance ESS, Pareto k̂ of "
    "the weights: vae-is's and vae-imh's own weights (K = inner, t = temperature), for vae-gibbs and "
    "vae-hybrid the joint K=0 weights of the VAE. {mark}: k̂ > {khat_max} in some seed of a row that uses "
    "the weights (the weights' variance is infinite): its ESS, MCSE and bias/MCSE are unreliable."
)
TRUTH_CAPTION = (
    " Passes truth: seeds passing / seeds with ground truth (|bias|/MCSE <= {mcse:g} for every "
    "statistic, bias² max <= {bias2:g}, Pareto k̂ <= {khat} for weighted draws); {fails}: fails in some "
    "seed. Bold: the best efficiency figure (ESS, cost to bias² <= {bias2:g}) among passing rows only. "
    "Cost to accuracy: gradients (seconds) incl. warm-up until bias² of every statistic (max) or their "
    "average (avg) stays <= {bias2:g}; never: not within the budget in some seed."
)
UNRELIABLE = "!"  # after the ESS and bias/MCSE cells of a row whose Pareto k-hat is above KHAT_MAX
FAILS = "†"  # after the label of a row that fails the truth (bench.metrics.truth) in some seed


def _fmt(values, digits: int = 3, signed: bool = False) -> str:
    """Mean ± sd over seeds: the mean to `digits` significant digits, the sd to 2 (over a few seeds an sd's own
    relative error is tens of percent: a third digit would be noise, and costs the table its width)."""
    vals = np.array([v for v in values if v is not None], dtype=float)
    vals = vals[np.isfinite(vals)]
    if vals.size == 0:
        return "–"
    sign = "+" if signed else ""

    def one(v):
        if v == int(v) and abs(v) < 10 ** (digits + 1):
            return f"{int(v):{sign}d}"
        if abs(v) >= 10 ** (digits + 1) or abs(v) < 10 ** (-digits):
            return f"{v:{sign}.{digits - 1}e}"
        return f"{v:{sign}.{max(0, digits - 1 - int(math.floor(math.log10(abs(v)))))}f}"

    def sd(v):  # 2 significant digits, fixed-point from 1e-4 (whole numbers from 10)
        if v >= 10 or v == 0:
            return f"{v:.0f}"
        if v < 1e-4:
            return f"{v:.1e}"
        return f"{v:.{1 - int(math.floor(math.log10(v)))}f}"

    return one(vals.mean()) + (f" ± {sd(vals.std(ddof=1))}" if vals.size > 1 else "")


def _truth(v: float) -> str:
    """A true value for a column header; `no truth` where the target has none (NaN)."""
    return f"{v:.3g}" if math.isfinite(v) else "no truth"


def _number(v) -> float:
    """A record's value as a float; None (missing) is NaN, an exact 0.0 stays 0.0."""
    return np.nan if v is None else float(v)


def _rhat(records: list[dict]) -> str:
    """R-hat max over the seeds, naming the statistics whose R-hat was not computable in some seed."""
    names = sorted({n for r in records for n in (r.get("rhat_not_computable") or "").split(", ") if n})
    return _fmt([r.get("rhat_max") for r in records]) + (f" (none: {', '.join(names)})" if names else "")


def worst_statistic(records: list[dict]) -> tuple[str, list]:
    """The worst statistic (bench.columns, "worst |bias|/sd") of one configuration's seeds.

    Per seed the largest |bias of the mean| in true sds over the statistics (`|worst_bias_mean_sd|`), and the
    statistic that is worst in most seeds (on a tie, the earliest seed's).

    Parameters
    ----------
    records
        The configuration's records, one per seed.

    Returns
    -------
    tuple of (str, list of float)
        The statistic worst in most seeds and each seed's |worst_bias_mean_sd|; ("", NaNs) without ground
        truth.
    """
    names = [r.get("worst_stat") for r in records if r.get("worst_stat")]
    name = max(names, key=names.count) if names else ""
    return name, [abs(_number(r.get("worst_bias_mean_sd"))) for r in records]


def _fmt_cost(values) -> str:
    """A cost to accuracy over seeds: `never` when some seed's budget did not reach it (inf), else mean ± sd."""
    vals = [_number(v) for v in values]
    return "never" if any(v == math.inf for v in vals) else _fmt(vals)


def _mean(values) -> float:
    """The mean over seeds that the efficiency bolding compares (inf: never; NaN: no value)."""
    vals = np.array([_number(v) for v in values], dtype=float)
    vals = vals[~np.isnan(vals)]
    return float(vals.mean()) if vals.size else np.nan


# `--columns`: each column's name (bench.columns.Column.name); the default, `headline`, is what fits a 120-column
# terminal (the sampler's label folded onto lines of SAMPLER_WIDTH)
HEADLINE = tuple(c.name for c in COLUMNS if c.headline)
SAMPLER_WIDTH = 20
SHORT_CAPTION = (
    "Headline columns (--columns all: every column; the CSVs hold them all): "
    + "; ".join(f"{c.short} = {c.name}" for c in COLUMNS if c.headline and c.short != c.name)
    + ": see the caption below. "
)


def select_columns(target: Target, spec: str) -> tuple[str, ...] | None:
    """The columns that `--columns` names: `headline` -> HEADLINE, `all` -> None (every column), or a list.

    A comma-separated list of column names is checked against the names of every column a table can have.

    Parameters
    ----------
    target
        The table's target (the names are checked against every column, whatever the target).
    spec
        `headline`, `all`, or comma-separated column names.

    Returns
    -------
    tuple of str or None
        The names, `sampler` first; None for every column.

    Raises
    ------
    ValueError
        Naming the unknown columns (or none given) and the valid ones.
    """
    if spec == "headline":
        return HEADLINE
    if spec == "all":
        return None
    keys = tuple(k.strip() for k in spec.split(",") if k.strip())
    valid = [c.name for c in COLUMNS]
    unknown = [k for k in keys if k not in valid]
    if unknown or not keys:
        raise ValueError(
            f"--columns: unknown column {', '.join(map(repr, unknown)) or '(none given)'}; valid: "
            f"headline, all, or a list of {', '.join(valid)}"
        )
    return ("sampler", *[k for k in keys if k != "sampler"])


def _header(c: Column, target: Target) -> str:
    """A column's header in this target's table: the headline statistic's name, and the truth where it has one."""
    h = target.headline_statistic
    truth_of = {
        "mean[{h}]": lambda: _truth(h.mean),
        "sd[{h}]": lambda: _truth(h.sd),
        "well_upper_min": lambda: f"{target.wells.p_upper:.3f}",
    }
    header = c.header.format(h=h.name)
    return f"{header} ({truth_of[c.key]()})" if c.key in truth_of else header


def results_table(target: Target, groups: dict[str, list[dict]], columns: tuple[str, ...] | None = None) -> Table:
    """The terminal table of a run: one row per sampler configuration, mean ± sd over seeds.

    Parameters
    ----------
    target
        The target, with its ground truth.
    groups
        Sampler label -> records of its seeds (ok and failed).
    columns
        The names (`Column.name`) of the columns to show, None for all.

    Returns
    -------
    rich.table.Table
        The table, with its caption.
    """
    full, shown = _results_table(target, groups)
    if columns is None:
        return full
    keep = [i for i, c in enumerate(shown) if c.name in columns]
    short = columns == HEADLINE
    h = target.headline_statistic
    title = full.title if math.isfinite(h.mean) else f"{full.title} (no truth for {h.name}: its bias is not computable)"
    table = Table(
        title=escape(title),
        title_justify="left",
        caption_justify="left",
        collapse_padding=True,
        caption=(SHORT_CAPTION if short else "") + str(full.caption),
    )
    for i in keep:
        c = full.columns[i]
        header = escape(shown[i].short) if short else c.header
        if i == 0:  # the label is folded, the numbers never
            table.add_column(header, justify=c.justify, overflow="fold", min_width=12, max_width=SAMPLER_WIDTH)
        else:
            table.add_column(header, justify=c.justify, no_wrap=True)
    for r in range(full.row_count):
        cells = [str(full.columns[i]._cells[r]) for i in keep]
        table.add_row(*[c.replace(" ± ", "±") if short else c for c in cells])
    return table


def _results_table(target: Target, groups: dict[str, list[dict]]) -> tuple[Table, list[Column]]:
    """Every column of the table (`results_table` selects among them), and the columns shown (bench.columns: those
    whose `shown` the target's fields or the records provide)."""
    h = target.headline_statistic
    groups = {label: [restore_never(r) for r in records] for label, records in groups.items()}
    oks = [r for rs in groups.values() for r in rs if r["status"] == "ok"]
    verdicts = {label: truth.config_verdict([r for r in rs if r["status"] == "ok"]) for label, rs in groups.items()}
    judged = any(v[0] is not None for v in verdicts.values())
    table = Table(
        title=f"{target.id}: mean ± sd over seeds",
        title_justify="left",
        caption_justify="left",
        caption=CAPTION.format(h=h.name, mark=UNRELIABLE, khat_max=KHAT_MAX)
        + (
            TRUTH_CAPTION.format(fails=FAILS, mcse=truth.BIAS_MCSE_MAX, bias2=truth.BIAS2_MAX, khat=KHAT_MAX)
            if judged
            else ""
        ),
    )
    available = {
        "always": True,
        "cost": any("bias2_max_reached" in r for r in oks),
        "modes": target.modes is not None,
        "wells": target.wells is not None,
        "sample": target.sample is not None,
        "transport": any("sinkhorn" in r or "entropic_w2" in r for r in oks),
        "weights": any("log_Z_hat" in r for r in oks),
    }
    shown = [c for c in COLUMNS if available[c.shown]]
    for c in shown:
        table.add_column(
            escape(_header(c, target)),
            justify="left" if c.key == "sampler_id" else "right",
            no_wrap=c.key == "sampler_id",
        )
    rows, means = [], {}
    for label, records in groups.items():
        ok = [r for r in records if r["status"] == "ok"]
        passes, n_pass, n_judged, _ = verdicts[label]
        head = {"sampler_id": label + (f" {FAILS}" if passes is False else ""), "n_seeds": f"{len(ok)}/{len(records)}"}
        if not ok:
            rows.append([head.get(c.key, "–") for c in shown])
            continue
        unreliable = any(r.get("khat_unreliable") for r in ok)
        eligible = not unreliable and (passes is True or not judged)  # never reward a wrong answer
        cells = (
            head
            | _cells(target, shown, ok, unreliable)
            | {"passes_truth": truth.verdict_text(passes, n_pass, n_judged)}
        )
        for c in shown:
            if c.efficiency and eligible:
                means.setdefault(c.key, {})[len(rows)] = _mean([r.get(c.key) for r in ok])
        rows.append([cells[c.key] for c in shown])
    keys = [c.key for c in shown]
    for key, by_row in means.items():  # bold the best efficiency figure among the eligible rows
        finite = {i: m for i, m in by_row.items() if np.isfinite(m)}
        j = keys.index(key)
        if len([r for r in rows if r[j] not in ("–", "never")]) > 1 and finite:
            best = (max if BY_KEY[key].better == "higher" else min)(finite.values())
            for i, m in finite.items():
                if m == best:
                    rows[i][j] = f"[bold]{escape(rows[i][j])}[/bold]"
    for row in rows:
        table.add_row(*[cell if cell.startswith("[bold]") else escape(cell) for cell in row])
    return table, shown


def _cells(target: Target, shown: list[Column], ok: list[dict], unreliable: bool) -> dict[str, str]:
    """The cells of one row (its finished seeds `ok`) of the columns `shown`, by column key."""
    h = target.headline_statistic
    col = lambda key: [r.get(key) for r in ok]  # noqa: E731
    mark = (lambda text: f"{text} {UNRELIABLE}") if unreliable else (lambda text: text)
    out = {}
    for c in shown:
        if c.key in ("sampler_id", "n_seeds", "passes_truth"):  # the row's label and counts (_results_table)
            continue
        key = c.key.format(h=h.name)
        text = _fmt_cost(col(key)) if c.shown == "cost" and c.key != "bias2_max" else _fmt(col(key), c.digits, c.signed)
        out[c.key] = mark(text) if c.khat and c.key not in ("worst_abs_bias_mean_sd", "bias2_max") else text
    worst, worst_bias = worst_statistic(ok)
    out["worst_abs_bias_mean_sd"] = f"{worst} {_fmt(worst_bias, 2)}".strip() if worst else _fmt(worst_bias, 2)
    out["rhat_max"] = _rhat(ok)
    out["time_compile"] = _fmt([sum(col("time_compile"))], 2)
    if target.modes is not None:
        out["modes_visited"] = f"{_fmt(col('modes_visited'))}/{target.modes.count}"
    if target.wells is not None:
        out["well_patterns_visited"] = f"{_fmt(col('well_patterns_visited'))} ({_fmt(col('well_patterns_exact'))})"
        out["well_upper_min"] = f"{_fmt(col('well_upper_min'), 2)}..{_fmt(col('well_upper_max'), 2)}"
    for key in ("sinkhorn", "entropic_w2"):  # ! after a value whose Sinkhorn solve stopped unconverged in some seed
        if key in out and any(col(f"{key}_not_converged")):
            out[key] += f" {UNRELIABLE}"
    return out
