"""Leaderboards derived from records: CSV per target, one long CSV, Markdown and LaTeX renderings.

`aggregate` turns cells into one row per configuration (target + parameters, sampler + parameters,
budget, precision, device): every numeric column becomes `<metric>.mean` and `<metric>.sd` (sample
sd, ddof = 1) over the seeds that finished (`n_seeds`); failed cells are counted in `n_failed`;
`time_compile` becomes `time_compile.total` (paid once per configuration, 0 for later seeds).
`render` picks the headline columns of `COLUMNS` and marks the best mean of each (direction per
metric: ESS higher, bias / bounds / distances / time / cost to accuracy lower) in bold. `n_khat_unreliable`
counts the seeds whose record has `khat_unreliable` (Pareto k-hat above `bench.metrics.evidence.KHAT_MAX` for a
sampler that uses those weights): such a row's ESS and bias cells carry `UNRELIABLE` ("!") and are never bold.

Passes truth (`bench.metrics.truth`, its thresholds in one place): a configuration passes when every finished
seed with ground truth passes (|bias|/MCSE <= 4, bias2 max <= 0.01, Pareto k-hat <= 0.5 where the estimates rest
on importance weights); `passes_truth` (True / False / empty: no truth), `n_pass_truth` of `n_truth` seeds and
`truth_failures` (the failed criteria, with seed counts). A failing row carries `FAILS` ("†") after its label,
and its efficiency figures (ESS/s, ESS/s incl. warm-up, ESS/1k grads, cost to accuracy) are never bold: in a
table with ground truth they are bold only among passing rows. Cost-to-accuracy columns
(`bench.metrics.cost`): mean over seeds, "never" when some seed's budget did not reach bias2 <= 0.01.

Files written by `write_all` (docs/leaderboards.md; every column in docs/metrics.md):

    runs.csv              every record, one row per cell
    <target>.csv          one row per configuration of that target
    <target>.md / .tex    one table per target configuration (Markdown pipe table; LaTeX booktabs)
    leaderboard.md / .tex all targets' tables in one file
"""

from __future__ import annotations

import hashlib
import html
import json
import math
import os
import pathlib
import tempfile

import numpy as np
import pandas as pd

from bench import store
from bench.columns import BY_KEY
from bench.metrics import truth
from bench.metrics.cost import restore_never
from bench.metrics.evidence import KHAT_MAX

UNRELIABLE = "!"  # after a cell that a Pareto k-hat above KHAT_MAX makes unreliable
FAILS = "†"  # after the label of a row that fails the truth (bench.metrics.truth)
JOINT_WEIGHT_SAMPLERS = ("vae-gibbs", "vae-hybrid")  # their k-hat and IS ESS are of the VAE's joint K=0 weights

GROUP = ["target", "target_id", "sampler", "sampler_id", "chains", "draws", "warmup", "precision", "device"]
SKIP = {
    "seed",
    "dim",
    "cell_id",
    "device_count",
    "host_cpus",
    "git_dirty",
    "modes_total",
    "khat_unreliable",
    "rhat_not_computable",
    "ess_not_computable",
    "bias2_max_reached",
    "bias2_avg_reached",
    "bias2_cost_counting",
}
# not averaged either: versions, and the target's log Z with those of its parts (`Target.log_Z_offsets`, the
# record's `target_log_Z_<name>`), which are the target's, not a result
SKIP_PREFIXES = ("version.", "target_log_Z")
PROVENANCE = [
    "git_commit",
    "git_dirty",
    "lock_hash",
    "lock_matches",
    "platform",
    "device_count",
    "host_cpus",
    "profile",
]
IDENTITY_FIRST = [
    "cell_id",
    "target",
    "target_id",
    "sampler",
    "sampler_id",
    "chains",
    "draws",
    "warmup",
    "seed",
    "precision",
    "device",
    "status",
    "error",
]


# The headline columns of the renderings, in their order (each column's header, meaning, direction: bench.columns)
LEADERBOARD = (
    "ess_bulk_min_per_s",
    "ess_bulk_min_per_s_total",
    "ess_bulk_min_per_1k_grads",
    "grads_to_bias2_max",
    "grads_to_bias2_avg",
    "seconds_to_bias2_max",
    "rhat_max",
    "worst_abs_bias_mean_sd",
    "bias2_max",
    "mmd2",
    "emc",
    "divergences",
    "kl_bound",
    "abs_delta_log_Z",
    "importance_ess",
    "pareto_khat",
    "time_run",
)
COLUMNS = tuple(BY_KEY[key] for key in LEADERBOARD)
DERIVED = {"worst_abs_bias_mean_sd": ("worst_bias_mean_sd", abs)}  # new column <- (record column, function)


def aggregate(records: list[dict]) -> pd.DataFrame:
    """Mean and sd over seeds of every numeric column, one row per configuration (see the module doc).

    Parameters
    ----------
    records
        The records of one target's cells.

    Returns
    -------
    pandas.DataFrame
        One row per configuration: its identity, seed counts, truth verdict, `<column>.mean` / `<column>.sd` and
        provenance; empty when there are no records.
    """
    frame = pd.DataFrame([restore_never(r) for r in records])
    if frame.empty:
        return frame
    for col in GROUP:
        if col not in frame:
            frame[col] = None
    for new, (source, fn) in DERIVED.items():
        if source in frame:
            frame[new] = pd.to_numeric(frame[source], errors="coerce").map(fn)
    params = sorted(c for c in frame.columns if c.startswith(("target.", "sampler.")))
    keys = GROUP + params
    frame["config_id"] = [_config_id(row) for row in frame[keys].to_dict("records")]
    ok = frame[frame["status"] == "ok"]
    numeric = [
        c
        for c in ok.columns
        if c not in keys
        and c not in SKIP
        and c != "config_id"
        and not c.startswith(SKIP_PREFIXES)
        and c not in PROVENANCE
        and not pd.api.types.is_bool_dtype(ok[c])
        and pd.to_numeric(ok[c], errors="coerce").notna().any()
    ]
    rows = []
    for _, group in frame.groupby("config_id", sort=False):
        good = group[group["status"] == "ok"]
        row = {k: group[k].iloc[0] for k in keys} | {"config_id": group["config_id"].iloc[0]}
        row["n_seeds"], row["n_failed"] = len(good), int((group["status"] != "ok").sum())
        row["n_khat_unreliable"] = int(sum(v is True or v == 1 for v in good.get("khat_unreliable", [])))
        passes, row["n_pass_truth"], row["n_truth"], row["truth_failures"] = truth.config_verdict(
            good.to_dict("records")
        )
        row["passes_truth"] = passes
        counting = sorted({str(v) for v in good.get("bias2_cost_counting", pd.Series(dtype=object)).dropna()})
        if counting:
            row["bias2_cost_counting"] = " / ".join(counting)
        for col in ("rhat_not_computable", "ess_not_computable"):  # the statistics named in any seed
            names = sorted({n for v in good.get(col, pd.Series(dtype=object)).dropna() for n in str(v).split(", ")})
            if names:
                row[col] = ", ".join(names)
        row["seeds"] = " ".join(map(str, sorted(good["seed"])))
        row["cell_ids"] = " ".join(group.sort_values("seed")["cell_id"].astype(str))
        for col in sorted(numeric):
            vals = pd.to_numeric(good[col], errors="coerce").to_numpy(dtype=float)
            if col == "time_compile":
                row["time_compile.total"] = float(np.nansum(vals))
            elif (~np.isnan(vals)).any():  # +inf (never) counts: a mean over seeds with one never is never
                row[f"{col}.mean"] = float(np.nanmean(vals))
                row[f"{col}.sd"] = (
                    float(np.nanstd(vals, ddof=1))
                    if np.isfinite(vals).sum() > 1 and not np.isinf(vals).any()
                    else np.nan
                )
        for col in [c for c in group.columns if c.startswith("version.")] + PROVENANCE:
            if col in group:  # the values of every cell: a configuration run under two versions shows both
                values = sorted({str(v) for v in group[col].dropna()})
                row[col] = " ".join(values) if values else None
        rows.append(row)
    return _sorted(pd.DataFrame(rows))


def _config_id(identity: dict) -> str:
    """8 hex digits of the configuration's identity (a cell's identity without its seed)."""
    clean = {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in identity.items()}
    return hashlib.sha256(json.dumps(clean, sort_keys=True, default=str).encode()).hexdigest()[:8]


def _sorted(table: pd.DataFrame) -> pd.DataFrame:
    from bench.samplers import SAMPLERS

    order = {name: i for i, name in enumerate(SAMPLERS)}
    key = table["sampler"].map(lambda s: order.get(s, len(order)))
    return (
        table.assign(_order=key)
        .sort_values(
            ["target", "target_id", "_order", "sampler_id", "chains", "draws", "warmup", "precision", "device"],
            kind="stable",
        )
        .drop(columns="_order")
        .reset_index(drop=True)
    )


def long_table(records: list[dict]) -> pd.DataFrame:
    """Every record, one row per cell: identity columns first, then the rest in alphabetical order.

    A cost to accuracy not reached is inf ("never", `bench.metrics.cost.restore_never`).

    Parameters
    ----------
    records
        The records.

    Returns
    -------
    pandas.DataFrame
        One row per cell, sorted by target, sampler and seed; empty when there are no records.
    """
    frame = pd.DataFrame([restore_never(r) for r in records])
    if frame.empty:
        return frame
    tparams = sorted(c for c in frame if c.startswith("target."))
    sparams = sorted(c for c in frame if c.startswith("sampler."))
    first = [c for c in IDENTITY_FIRST[:3] if c in frame] + tparams + [c for c in IDENTITY_FIRST[3:5] if c in frame]
    first += sparams + [c for c in IDENTITY_FIRST[5:] if c in frame]
    rest = sorted(c for c in frame if c not in first)
    return frame[first + rest].sort_values(["target", "target_id", "sampler", "sampler_id", "seed"], kind="stable")


# --- renderings --------------------------------------------------------------------------------------------


def render(table: pd.DataFrame, fmt: str) -> str:
    """Markdown or LaTeX booktabs tables of an aggregated leaderboard, one per target configuration.

    Each row a sampler configuration, `mean ± sd` over seeds, best mean in bold.

    Parameters
    ----------
    table
        An aggregated leaderboard (`aggregate`).
    fmt
        "markdown", "latex" or "html".

    Returns
    -------
    str
        The tables, separated by blank lines.
    """
    parts = []
    for target_id, sub in table.groupby("target_id", sort=False):
        parts.append(_render_one(str(target_id), sub.reset_index(drop=True), fmt))
    return "\n\n".join(parts) + "\n"


def _render_one(target_id: str, sub: pd.DataFrame, fmt: str) -> str:
    frame, note = table_frame(sub, fmt)
    if fmt == "latex":
        caption = _escape(note, "latex").replace("±", "$\\pm$").replace(" x ", " $\\times$ ")
        for text, tex in (("²", "$^2$"), (FAILS, "$^\\dagger$"), ("<=", "$\\le$"), ("|", "$|$")):
            caption = caption.replace(text, tex)
        return frame.to_latex(
            index=False,
            escape=False,
            caption=caption,
            label=f"tab:{_slug(target_id)}",
            column_format="l" + "r" * (frame.shape[1] - 1),
        )
    if fmt == "html":
        return f"<p>{html.escape(note)}</p>\n" + frame.to_html(index=False, escape=False, border=0)
    return f"### {target_id}\n\n{note}\n\n" + frame.to_markdown(
        index=False, disable_numparse=True, colalign=["left"] + ["right"] * (frame.shape[1] - 1)
    )


def table_frame(sub: pd.DataFrame, fmt: str = "markdown") -> tuple[pd.DataFrame, str]:
    """The headline columns of one target configuration's rows as formatted strings, and the table's note.

    Parameters
    ----------
    sub
        The aggregated rows of one target configuration.
    fmt
        "markdown", "latex" or "html": the escaping and the bold.

    Returns
    -------
    tuple of (pandas.DataFrame, str)
        The formatted table and its note (target, budget, device, precision, directions).
    """
    columns = [c for c in COLUMNS if f"{c.key}.mean" in sub and sub[f"{c.key}.mean"].notna().any()]
    verdicts = list(sub.get("passes_truth", pd.Series(None, sub.index, dtype=object)))
    verdicts = [None if v is None or (isinstance(v, float) and math.isnan(v)) else bool(v) for v in verdicts]
    fails = np.array([v is False for v in verdicts])
    passing = np.array([v is True for v in verdicts])
    judged = any(v is not None for v in verdicts)  # a table with ground truth: efficiency bold only if passing
    mark_fail = {"latex": "$^\\dagger$"}.get(fmt, FAILS)
    heads = {key: BY_KEY[key].header for key in ("sampler_id", "n_seeds", "passes_truth")}
    body: dict[str, list[str]] = {
        heads["sampler_id"]: [_escape(v, fmt) + (f" {mark_fail}" if f else "") for v, f in zip(row_labels(sub), fails)],
        heads["n_seeds"]: [f"{int(n)}/{int(n + f)}" for n, f in zip(sub["n_seeds"], sub["n_failed"])],
        heads["passes_truth"]: [
            truth.verdict_text(v, int(_or0(p)), int(_or0(n)))
            for v, p, n in zip(verdicts, sub.get("n_pass_truth", [0] * len(sub)), sub.get("n_truth", [0] * len(sub)))
        ],
    }
    unreliable = sub.get("n_khat_unreliable", pd.Series(0, sub.index)).fillna(0).to_numpy(float) > 0
    for c in columns:
        means, sds = sub[f"{c.key}.mean"].to_numpy(float), sub.get(f"{c.key}.sd", pd.Series(np.nan, sub.index))
        marked = unreliable if c.khat else np.zeros(len(sub), bool)
        if c.efficiency and judged:
            marked = marked | ~passing  # never reward a wrong answer
        finite = means[np.isfinite(means)]
        candidates = means[np.isfinite(means) & ~marked]  # a marked row is never the best
        best = (
            (candidates.max() if c.better == "higher" else candidates.min())
            if finite.size > 1 and candidates.size
            else np.nan
        )
        cells = []
        khat_marked = unreliable if c.khat else np.zeros(len(sub), bool)
        for m, sd, mark, khat_mark in zip(means, np.asarray(sds, float), marked, khat_marked):
            text = format_mean_sd(m, sd, fmt == "latex")
            if np.isfinite(m) and not mark and _same(m, best):
                text = {"latex": f"\\textbf{{{text}}}", "html": f"<b>{text}</b>"}.get(fmt, f"**{text}**")
            if np.isfinite(m) and khat_mark:
                text += f" {UNRELIABLE}"
            cells.append(text)
        header = {"latex": c.latex, "html": html.escape(c.header)}.get(fmt, c.markdown)
        body[header] = cells
    device = " / ".join(sorted({str(d) for d in sub["device"]}))
    budget = " / ".join(
        sorted({f"{c} chains x {w} warm-up + {d} draws" for c, d, w in zip(sub["chains"], sub["draws"], sub["warmup"])})
    )
    higher = ", ".join(c.header for c in columns if c.better == "higher")
    directions = (
        (f" ({higher}: higher is better; the others lower)" if higher else " (lower is better)") if columns else ""
    )
    note = (
        f"{sub['target_id'].iloc[0]}: mean ± sd over seeds; {budget}; {device}; "
        f"{' / '.join(sorted({str(p) for p in sub['precision']}))}. Best mean per column in bold{directions}."
    )
    if judged:
        note += (
            f" Passes truth: seeds passing / seeds with ground truth (|bias|/MCSE <= {truth.BIAS_MCSE_MAX:g}, "
            f"bias² max <= {truth.BIAS2_MAX:g}, Pareto k-hat <= {KHAT_MAX} for weighted draws); {FAILS}: fails "
            f"in some seed; ESS and cost-to-accuracy figures are bold only among passing rows."
        )
    if any(c.key.endswith(("_to_bias2_max", "_to_bias2_avg")) for c in columns):
        note += (
            " Cost to accuracy: gradients (seconds) incl. warm-up until bias² of every statistic (max) or their "
            "average (avg) stays <= 0.01; never: not within the budget in some seed."
        )
    if unreliable.any():
        note += (
            f" {UNRELIABLE}: Pareto k-hat > {KHAT_MAX} in some seed (the importance weights' variance is "
            f"infinite): the row's ESS, MCSE and bias are unreliable, and never bold."
        )
    if "sampler" in sub and sub["sampler"].isin(JOINT_WEIGHT_SAMPLERS).any() and "pareto_khat.mean" in sub:
        note += (
            " IS ESS, Pareto k-hat and |Delta log Z| of vae-gibbs and vae-hybrid: the joint K=0 weights of "
            "the VAE, not weights of the chain."
        )
    return pd.DataFrame(body), note


def row_labels(sub: pd.DataFrame) -> list[str]:
    """The sampler label of each row, made unique within one table.

    Budget, precision or device are added where the rows of one table differ in them, and the configuration id
    where labels would still collide (e.g. the same given parameters, other defaults).

    Parameters
    ----------
    sub
        The aggregated rows of one table.

    Returns
    -------
    list of str
        One label per row.
    """
    labels = list(sub["sampler_id"].astype(str))
    for col in ("chains", "draws", "warmup", "precision", "device"):
        if sub[col].nunique(dropna=False) > 1:
            labels = [f"{lab} {col}={v}" for lab, v in zip(labels, sub[col])]
    counts = pd.Series(labels).value_counts()
    return [f"{lab} [{cid}]" if counts[lab] > 1 else lab for lab, cid in zip(labels, sub["config_id"])]


def format_mean_sd(mean: float, sd: float, latex: bool = False) -> str:
    """`mean ± sd` with three significant digits on the mean and the sd to the same decimal place.

    `–` when no seed finished; the mean alone for one seed; `never` for +inf (a cost to accuracy not reached).

    Parameters
    ----------
    mean
        The mean over seeds.
    sd
        The sd over seeds (NaN: one seed).
    latex
        Whether to write LaTeX (`$\\pm$`, `--`).

    Returns
    -------
    str
        The formatted cell.
    """
    if mean == math.inf:
        return "never"
    if not np.isfinite(mean):
        return "--" if latex else "–"
    text = _num(mean)
    if np.isfinite(sd):
        text += (" $\\pm$ " if latex else " ± ") + _num(sd, like=mean)
    return text


def _num(v: float, like: float | None = None) -> str:
    ref = abs(like) if like is not None and like != 0 else abs(v)
    if v == 0:
        return "0"
    if ref >= 1e5 or ref < 1e-3:
        return f"{v:.2e}"
    decimals = max(0, 2 - int(math.floor(math.log10(ref))))
    return f"{v:.{decimals}f}"


def _or0(v) -> float:
    return 0.0 if v is None or (isinstance(v, float) and math.isnan(v)) else float(v)


def _same(a: float, b: float) -> bool:
    return bool(np.isfinite(b)) and math.isclose(a, b, rel_tol=1e-12, abs_tol=0.0)


_LATEX_SPECIAL = {
    "\\": "\\textbackslash{}",
    "&": "\\&",
    "%": "\\%",
    "$": "\\$",
    "#": "\\#",
    "_": "\\_",
    "{": "\\{",
    "}": "\\}",
    "~": "\\textasciitilde{}",
    "^": "\\textasciicircum{}",
}


def _escape(text: str, fmt: str) -> str:
    if fmt == "latex":
        return "".join(_LATEX_SPECIAL.get(ch, ch) for ch in text)
    if fmt == "html":
        return html.escape(text)
    return text.replace("|", "\\|")


def _slug(text: str) -> str:
    return "".join(ch if ch.isalnum() else "-" for ch in text).strip("-")


# --- files -------------------------------------------------------------------------------------------------


def write_all(results: pathlib.Path, out: pathlib.Path | None = None, targets: list[str] | None = None) -> pathlib.Path:
    """Rebuild the leaderboards of every target (or of `targets`) under `results` into `out`; returns the folder.

    The default `out`, `<results>/leaderboard`, must lie inside `results` and outside reference results once
    symlinks are resolved (`bench.store.check_inside`); an explicit `out` is the caller's choice, e.g. `make
    reference`.

    Parameters
    ----------
    results
        The results folder, with its records under `runs/`.
    out
        The leaderboards' folder; None: `<results>/leaderboard`.
    targets
        The targets to rebuild; None: every target, and the combined `leaderboard.md` / `.tex`.

    Returns
    -------
    pathlib.Path
        The leaderboards' folder.
    """
    folder = out if out is not None else results / "leaderboard"
    if out is None:
        store.check_inside(results, folder / "runs.csv")
    folder.mkdir(parents=True, exist_ok=True)
    everything = list(store.read_records(results))
    _atomic_text(long_table(everything).to_csv(index=False), folder / "runs.csv")
    names = sorted({r["target"] for r in everything}) if targets is None else targets
    markdown, latex = [], []
    for name in names:
        table = aggregate([r for r in everything if r.get("target") == name])
        _atomic_text(table.to_csv(index=False), folder / f"{name}.csv")
        if table.empty:
            continue
        md, tex = render(table, "markdown"), render(table, "latex")
        _atomic_text(md, folder / f"{name}.md")
        _atomic_text(tex, folder / f"{name}.tex")
        markdown.append(md)
        latex.append(tex)
    if targets is None:
        _atomic_text("\n".join(markdown), folder / "leaderboard.md")
        _atomic_text("% needs \\usepackage{booktabs}\n" + "\n".join(latex), folder / "leaderboard.tex")
    return folder


def write_leaderboards(out: pathlib.Path, target: str) -> pathlib.Path:
    """Rebuild `<out>/leaderboard/<target>.csv` (.md, .tex) and `runs.csv` from every record under `out`.

    Parameters
    ----------
    out
        The results folder.
    target
        The target's name.

    Returns
    -------
    pathlib.Path
        The target's CSV.
    """
    return write_all(out, targets=[target]) / f"{target}.csv"


def _atomic_text(text: str, path: pathlib.Path) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
