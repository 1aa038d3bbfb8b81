"""The terminal table of a run: one row per sampler configuration, mean ± sd over seeds."""
from __future__ import annotations

import math

import numpy as np
from rich.markup import escape
from rich.table import Table

from bench.metrics import truth
from bench.metrics.cost import restore_never
from bench.metrics.evidence import KHAT_MAX
from targets.base import Target

CAPTION = ("ESS: smallest bulk ESS over the statistics; per s of sampling, of warm-up (or training) + sampling, and "
           "per 1,000 gradients (warm-up and training included). {h}: the headline statistic; bias/MCSE its mean "
           "bias in Monte Carlo standard errors; worst: the statistic with the largest |mean bias| in true sds. "
           "R-hat max: over the statistics where it is computable (none: those where it is not, e.g. constant within "
           "every chain). compile s: all seeds together (compiled once, reused); run s: warm-up + sampling per seed. "
           "VAE samplers: KL bound = L + log Z, log Z from importance weights, normalised importance ESS, Pareto k̂ of "
           "the weights: vae-is's and vae-imh's own weights (K = inner, t = temperature), for vae-gibbs and "
           "vae-hybrid the joint K=0 weights of the VAE. {mark}: k̂ > {khat_max} in some seed of a row that uses "
           "the weights (the weights' variance is infinite): its ESS, MCSE and bias/MCSE are unreliable.")
TRUTH_CAPTION = (" Passes truth: seeds passing / seeds with ground truth (|bias|/MCSE <= {mcse:g} for every "
                 "statistic, bias² max <= {bias2:g}, Pareto k̂ <= {khat} for weighted draws); {fails}: fails in some "
                 "seed. Bold: the best efficiency figure (ESS, cost to bias² <= {bias2:g}) among passing rows only. "
                 "Cost to accuracy: gradients (seconds) incl. warm-up until bias² of every statistic (max) or their "
                 "average (avg) stays <= {bias2:g}; never: not within the budget in some seed.")
UNRELIABLE = "!"  # after the ESS and bias/MCSE cells of a row whose Pareto k-hat is above KHAT_MAX
FAILS = "†"  # after the label of a row that fails the truth (bench.metrics.truth) in some seed


def _fmt(values, digits: int = 3, signed: bool = False) -> str:
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

    return one(vals.mean()) + (f" ± {one(vals.std(ddof=1)).lstrip('+')}" if vals.size > 1 else "")


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


def worst_statistic(target: Target, records: list[dict]) -> tuple[str, list]:
    """The statistic with the largest mean |bias| in true sds over the seeds, and those |biases|."""
    names = [s.name for s in target.statistics]
    per_stat = [[abs(_number(r.get(f"bias_mean_sd[{n}]"))) for r in records] for n in names]
    worst = int(np.nanargmax([np.nanmean(v) if np.isfinite(v).any() else -1 for v in per_stat]))
    return names[worst], per_stat[worst]


def _fmt_cost(values) -> str:
    """A cost to accuracy over seeds: `never` when some seed's budget did not reach it (inf), else mean ± sd."""
    vals = [_number(v) for v in values]
    return "never" if any(v == math.inf for v in vals) else _fmt(vals)


def _mean(values) -> float:
    """The mean over seeds that the efficiency bolding compares (inf: never; NaN: no value)."""
    vals = np.array([_number(v) for v in values], dtype=float)
    vals = vals[~np.isnan(vals)]
    return float(vals.mean()) if vals.size else np.nan


EFFICIENCY = {  # column -> (record key, which way is better): bold only among rows that pass the truth
    "ESS/s": ("ess_bulk_min_per_s", "higher"), "ESS/s incl. warm-up": ("ess_bulk_min_per_s_total", "higher"),
    "ESS/1k grads": ("ess_bulk_min_per_1k_grads", "higher"), "grads to bias² max": ("grads_to_bias2_max", "lower"),
    "grads to bias² avg": ("grads_to_bias2_avg", "lower"), "s to bias² max": ("seconds_to_bias2_max", "lower")}
COST_COLUMNS = ("grads to bias² max", "grads to bias² avg", "s to bias² max")


# `--columns`: each column's short key (the header without the statistic's name and truth)
# the default: what fits a 120-column terminal (the sampler's label folded onto lines of SAMPLER_WIDTH)
HEADLINE = ("sampler", "seeds ok", "passes truth", "ESS/s incl. warm-up", "ESS/1k grads", "R-hat max", "bias/MCSE", "worst", "div.",
            "modes", "run s")
SAMPLER_WIDTH = 20
SHORT = {"seeds ok": "seeds", "passes truth": "truth", "ESS/s incl. warm-up": "ESS/s all", "ESS/1k grads": "ESS/1kg", "R-hat max": "R-hat",
         "worst": "worst"}
SHORT_CAPTION = ("Headline columns (--columns all: every column; the CSVs hold them all): seeds = seeds ok; truth = passes "
                 "truth; ESS/s all = "
                 "smallest bulk ESS per s of warm-up (or training) + sampling; ESS/1kg = per 1,000 gradients (warm-up "
                 "and training included); R-hat = R-hat max. ")


def column_key(header: str) -> str:
    """`E[x[0]] (0)` -> `E`, `worst (|bias|/sd)` -> `worst`: the name `--columns` lists a column by."""
    header = header.replace("\\", "")  # a rich-escaped header
    return header.split("[")[0] if "[" in header and not header.startswith("|") else header.split(" (")[0]


def select_columns(target: Target, spec: str) -> tuple[str, ...] | None:
    """`headline` -> HEADLINE, `all` -> None (every column), or a comma-separated list of column keys (checked
    against the keys of every column a table can have); ValueError naming the unknown ones and the valid ones."""
    if spec == "headline":
        return HEADLINE
    if spec == "all":
        return None
    keys = tuple(k.strip() for k in spec.split(",") if k.strip())
    valid = [column_key(c) for c in _all_headers(target)]
    unknown = [k for k in keys if k not in valid]
    if unknown or not keys:
        raise ValueError(f"--columns: unknown column {', '.join(map(repr, unknown)) or '(none given)'}; valid: "
                         f"headline, all, or a list of {', '.join(valid)}")
    return ("sampler", *[k for k in keys if k != "sampler"])


def _all_headers(target: Target) -> list[str]:
    h = target.headline_statistic
    return ["sampler", "seeds ok", "passes truth", "ESS/s", "ESS/s incl. warm-up", "ESS/1k grads", "R-hat max",
            f"E[{h.name}]", f"sd[{h.name}]", "bias/MCSE", "worst (|bias|/sd)", "div.", "bias² max", *COST_COLUMNS,
            "modes", "EMC", "well patterns (exact draws)", "upper-well frac", "MMD²", "Sinkhorn (ε=1e-3)",
            "entropic W2 (ε=0.05)", "KL bound", "|Δ log Z|", "IS ESS", "Pareto k̂", "compile s", "run s"]


def results_table(target: Target, groups: dict[str, list[dict]], columns: tuple[str, ...] | None = None) -> Table:
    """`groups`: sampler label -> records of its seeds (ok and failed). `columns`: the keys (`column_key`)
    of the columns to show, None for all."""
    full = _results_table(target, groups)
    if columns is None:
        return full
    keep = [i for i, c in enumerate(full.columns) if column_key(str(c.header)) in columns]
    short = columns == HEADLINE
    h = target.headline_statistic
    title = full.title if math.isfinite(h.mean) else f"{full.title} (no truth for {h.name}: its bias is not computable)"
    table = Table(title=escape(title), title_justify="left", caption_justify="left", collapse_padding=True,
                  caption=(SHORT_CAPTION if short else "") + str(full.caption))
    for i in keep:
        c = full.columns[i]
        header = SHORT.get(column_key(str(c.header)), str(c.header)) if short else c.header
        if i == 0:  # the label is folded, the numbers never
            table.add_column(header, justify=c.justify, overflow="fold", min_width=12, max_width=SAMPLER_WIDTH)
        else:
            table.add_column(header, justify=c.justify, no_wrap=True)
    for r in range(full.row_count):
        cells = [str(full.columns[i]._cells[r]) for i in keep]
        table.add_row(*[c.replace(" ± ", "±") if short else c for c in cells])
    return table


def _results_table(target: Target, groups: dict[str, list[dict]]) -> Table:
    """Every column of the table (`results_table` selects among them)."""
    h = target.headline_statistic
    groups = {label: [restore_never(r) for r in records] for label, records in groups.items()}
    oks = [r for rs in groups.values() for r in rs if r["status"] == "ok"]
    verdicts = {label: truth.config_verdict([r for r in rs if r["status"] == "ok"]) for label, rs in groups.items()}
    judged = any(v[0] is not None for v in verdicts.values())
    table = Table(title=f"{target.id}: mean ± sd over seeds", title_justify="left", caption_justify="left",
                  caption=CAPTION.format(h=h.name, mark=UNRELIABLE, khat_max=KHAT_MAX)
                  + (TRUTH_CAPTION.format(fails=FAILS, mcse=truth.BIAS_MCSE_MAX, bias2=truth.BIAS2_MAX, khat=KHAT_MAX)
                     if judged else ""))
    columns = ["sampler", "seeds ok", "passes truth", "ESS/s", "ESS/s incl. warm-up", "ESS/1k grads", "R-hat max",
               f"E[{h.name}] ({_truth(h.mean)})", f"sd[{h.name}] ({_truth(h.sd)})", "bias/MCSE", "worst (|bias|/sd)",
               "div."]
    cost = any("bias2_max_reached" in r for r in oks)
    if cost:
        columns += ["bias² max", *COST_COLUMNS]
    if target.modes is not None:
        columns += ["modes", "EMC"]
    if target.wells is not None:
        columns += ["well patterns (exact draws)", f"upper-well frac ({target.wells.p_upper:.3f})"]
    if target.sample is not None:
        columns += ["MMD²"]
    transported = any("sinkhorn" in r or "entropic_w2" in r for r in oks)
    if transported:
        columns += ["Sinkhorn (ε=1e-3)", "entropic W2 (ε=0.05)"]
    weighted = any("log_Z_hat" in r for r in oks)
    if weighted:
        columns += ["KL bound", "|Δ log Z|", "IS ESS", "Pareto k̂"]
    columns += ["compile s", "run s"]
    for c in columns:
        table.add_column(escape(c), justify="left" if c == "sampler" else "right", no_wrap=c == "sampler")
    rows, means = [], {}
    for label, records in groups.items():
        ok = [r for r in records if r["status"] == "ok"]
        passes, n_pass, n_judged, _ = verdicts[label]
        row = [label + (f" {FAILS}" if passes is False else ""), f"{len(ok)}/{len(records)}"]
        if not ok:
            rows.append(row + ["–"] * (len(columns) - 2))
            continue
        col = lambda key: [r.get(key) for r in ok]  # noqa: E731
        worst, worst_bias = worst_statistic(target, ok)
        worst = worst if np.isfinite(np.asarray(worst_bias, dtype=float)).any() else ""
        unreliable = any(col("khat_unreliable"))
        mark = (lambda text: f"{text} {UNRELIABLE}") if unreliable else (lambda text: text)
        row += [truth.verdict_text(passes, n_pass, n_judged),
                mark(_fmt(col("ess_bulk_min_per_s"))), mark(_fmt(col("ess_bulk_min_per_s_total"))),
                mark(_fmt(col("ess_bulk_min_per_1k_grads"))), _rhat(ok),
                _fmt(col(f"mean[{h.name}]"), signed=True), _fmt(col(f"sd[{h.name}]")),
                mark(_fmt(col(f"bias_mean_se[{h.name}]"), 2, signed=True)), f"{worst} {_fmt(worst_bias, 2)}".strip(),
                _fmt(col("divergences"), 2)]
        if cost:
            row += [_fmt(col("bias2_max"), 2)] + [_fmt_cost(col(EFFICIENCY[c][0])) for c in COST_COLUMNS]
        if target.modes is not None:
            row += [f"{_fmt(col('modes_visited'))}/{target.modes.count}", _fmt(col("emc"))]
        if target.wells is not None:
            row += [f"{_fmt(col('well_patterns_visited'))} ({_fmt(col('well_patterns_exact'))})",
                    f"{_fmt(col('well_upper_min'), 2)}..{_fmt(col('well_upper_max'), 2)}"]
        if target.sample is not None:
            row += [_fmt(col("mmd2"), 2)]
        if transported:  # ! after a value whose Sinkhorn solve stopped unconverged in some seed
            row += [_fmt(col("sinkhorn"), 2) + (f" {UNRELIABLE}" if any(col("sinkhorn_not_converged")) else ""),
                    _fmt(col("entropic_w2"), 2) + (f" {UNRELIABLE}" if any(col("entropic_w2_not_converged")) else "")]
        if weighted:
            row += [_fmt(col("kl_bound"), 2), _fmt(col("abs_delta_log_Z"), 2), _fmt(col("importance_ess"), 2),
                    _fmt(col("pareto_khat"), 2)]
        row += [_fmt([sum(col("time_compile"))], 2), _fmt(col("time_run"), 2)]
        eligible = not unreliable and (passes is True or not judged)   # never reward a wrong answer
        for c, (key, _) in EFFICIENCY.items():
            if c in columns and eligible:
                means.setdefault(c, {})[len(rows)] = _mean(col(key))
        rows.append(row)
    for c, by_row in means.items():  # bold the best efficiency figure among the eligible rows
        finite = {i: m for i, m in by_row.items() if np.isfinite(m)}
        if len([r for r in rows if r[columns.index(c)] not in ("–", "never")]) > 1 and finite:
            best = (max if EFFICIENCY[c][1] == "higher" else min)(finite.values())
            for i, m in finite.items():
                if m == best:
                    rows[i][columns.index(c)] = f"[bold]{escape(rows[i][columns.index(c)])}[/bold]"
    for row in rows:
        table.add_row(*[cell if cell.startswith("[bold]") else escape(cell) for cell in row])
    return table
