"""The report page: `<out>/index.html` and its PNGs in `<out>/figures/`, one section per target configuration.

Each section holds the leaderboard table (as in `bench.leaderboard`), a key from the figures' short labels
to the full sampler configurations, then the figures of `bench.report.figures`: draws against exact draws (the first finished seed of each sampler
configuration), ESS/s and accuracy against cost (all seeds), the running bias2 against gradients and seconds
(every seed, where the target's statistics have known squares), the VAE training curves (every VAE cell),
and a rank plot per unweighted sampler configuration (its first finished seed).
A cell whose draws cannot be read is named in a warning and left out of the figures; the page is
still written. Every file is written inside `out` (`bench.store.check_inside`).
"""

from __future__ import annotations

import dataclasses
import html
import os
import pathlib
import tempfile
import warnings

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from bench import leaderboard, store
from bench.metrics.cost import bias2_curves, cumulative_cost
from bench.metrics.truth import BIAS2_MAX
from bench.report import figures

RANK_STATISTICS = 4  # the first statistics of a target (its headline first) shown in rank plots
DPI = figures.DPI
WIDTH_PX = 1368  # the page's width for figures: 1400 px less its padding (a figure wider is scaled down)


def write_report(results: pathlib.Path, out: pathlib.Path | None = None) -> pathlib.Path:
    """Write the report of every record under `results` into `out` (default `<results>/report`); returns the page.

    Parameters
    ----------
    results
        The results folder, with its records under `runs/`.
    out
        The report's folder (`index.html` and `figures/`); None: `<results>/report`.

    Returns
    -------
    pathlib.Path
        The page, `<out>/index.html`.

    Raises
    ------
    bench.store.ResultsError
        When a path of the report resolves outside `out` or inside committed reference results.
    """
    import jax

    jax.config.update("jax_enable_x64", True)

    out = out if out is not None else results / "report"
    store.check_inside(out, out / "figures" / "x.png")
    store.check_inside(out, out / "index.html")
    (out / "figures").mkdir(parents=True, exist_ok=True)
    records = list(store.read_records(results))
    sections = []
    for name in sorted({r["target"] for r in records}):
        table = leaderboard.aggregate([r for r in records if r["target"] == name])
        for target_id, sub in table.groupby("target_id", sort=False):
            cells = [r for r in records if r.get("target_id") == target_id and r["status"] == "ok"]
            sections.append(_section(results, out, str(target_id), sub.reset_index(drop=True), cells))
    page = out / "index.html"
    _atomic_text(_page(results, sections), page)
    return page


def _section(results, out, target_id: str, sub: pd.DataFrame, cells: list[dict]) -> str:
    from bench.sweep.tasks import make_target

    slug = leaderboard._slug(target_id)
    labels = figures.short_labels(list(sub["sampler"].astype(str)))
    colour = figures.colours(labels)
    parts = [
        f"<h2 id='{slug}'>{html.escape(target_id)}</h2>",
        leaderboard.render(sub, "html"),
        _key(labels, leaderboard.row_labels(sub)),
    ]
    if not cells:
        return "\n".join(parts + ["<p>No finished cell.</p>"])
    first = cells[0]
    try:
        target = make_target(
            first["target"],
            tuple(
                sorted(
                    (k.split(".", 1)[1], v)
                    for k, v in first.items()
                    if k.startswith("target.") and k != "target.fingerprint"
                )
            ),
        )
    except (KeyError, ValueError, TypeError) as err:  # e.g. a user's model registered in another process
        return "\n".join(
            parts
            + [
                f"<p>No figures: target {html.escape(first['target'])} cannot be rebuilt "
                f"here ({html.escape(str(err))}).</p>"
            ]
        )
    by_config = {
        label: sorted((c for c in cells if c["cell_id"] in ids.split()), key=lambda c: c["seed"])
        for label, ids in zip(labels, sub["cell_ids"])
    }
    loaded = {c["cell_id"]: _tree(results, c) for cs in by_config.values() for c in cs}
    by_config = {k: [c for c in v if loaded[c["cell_id"]] is not None] for k, v in by_config.items()}
    by_config = {k: v for k, v in by_config.items() if v}
    if not by_config:
        return "\n".join(parts + ["<p>No figures: no finished cell's draws could be read.</p>"])
    trees = {label: loaded[cs[0]["cell_id"]] for label, cs in by_config.items()}

    exact = None
    if target.sample is not None:
        import jax

        exact = np.asarray(target.sample(jax.random.key(0), figures.EXACT_POINTS))
    parts.append(
        _figure(
            out,
            f"{slug}-draws",
            figures.draws_vs_exact(target, trees, exact, colour),
            "Draws (first finished seed; weighted draws resampled) against exact draws.",
        )
    )
    parts.append(
        _figure(
            out,
            f"{slug}-cost",
            figures.cost_accuracy(sub, labels, colour),
            "Left: smallest bulk ESS per second, of sampling alone and with warm-up / training. "
            "Right: worst |bias| / true sd against warm-up + sampling seconds. Mean ± sd over seeds.",
        )
    )
    bias2 = {
        label: [c for c in (_bias2_curve(target, loaded[r["cell_id"]], r) for r in cs) if c is not None]
        for label, cs in by_config.items()
    }
    bias2 = {label: cs for label, cs in bias2.items() if cs}
    if bias2:
        parts.append(
            _figure(
                out,
                f"{slug}-bias2",
                figures.bias2_against_cost(bias2, BIAS2_MAX, colour),
                "Cost to accuracy: the running bias² = (E_n[f²] - E[f²])² / Var[f²] of the worst "
                "statistic after n draws per chain (all chains pooled), against the gradients (left) and "
                "seconds (right) spent by then, warm-up and training included; one colour per sampler "
                f"configuration, one line per seed; dashed: {BIAS2_MAX:g}.",
            )
        )
    curves = {}
    for label, cs in by_config.items():
        for c in cs:
            tree = loaded[c["cell_id"]]
            if "training" in tree.children:
                curves.setdefault(label, []).append(
                    (c["seed"], {k: tree["training"][k].values for k in tree["training"].data_vars})
                )
    if curves:
        scale = (
            "L + log Z (the true log Z), which bounds KL(q || target) >= 0 from above, on a log scale"
            if target.log_Z is not None
            else "L - min L (log Z unknown) on a symlog scale"
        )
        parts.append(
            _figure(
                out,
                f"{slug}-training",
                figures.training_curves(curves, target.log_Z, colour),
                f"VAE training: the bound L against step as {scale}; a running mean (bold; per round "
                "for adaptive training), each step's estimate faint; one line style per seed.",
            )
        )
    stats = [s.name for s in target.statistics]
    shown = ([target.headline_statistic.name] + [s for s in stats if s != target.headline_statistic.name])[
        :RANK_STATISTICS
    ]
    for k, (label, tree) in enumerate(trees.items()):
        if "log_weight" in tree["sample_stats"]:
            continue  # independent weighted draws: ranks across "chains" say nothing
        parts.append(
            _figure(
                out,
                f"{slug}-rank-{k}",
                figures.rank_plot(tree, shown, label),
                f"{label}: rank ECDF difference plot of the chains (ArviZ), seed "
                f"{by_config[label][0]['seed']}; at most {figures.RANK_CHAINS} chains drawn.",
            )
        )
    return "\n".join(parts)


def _key(labels: list[str], full: list[str]) -> str:
    """The HTML key from the figures' short labels to the full sampler configurations."""
    rows = "".join(f"<tr><td>{html.escape(a)}</td><td>{html.escape(b)}</td></tr>" for a, b in zip(labels, full))
    return f"<table class='key'><tr><th>label</th><th>sampler configuration</th></tr>{rows}</table>"


def _bias2_curve(target, tree, record) -> dict | None:
    """The running bias2 (max over statistics) of one cell, with the gradients and seconds spent by each draw
    (`bench.metrics.cost`); None when the target has no statistic of known square or the record no cost."""
    from baselines.draws import Cost

    if any(record.get(f.name) is None for f in dataclasses.fields(Cost)):
        return None
    values = np.asarray(tree["posterior"]["statistics"].values)
    stats = tree["sample_stats"]
    log_w = np.asarray(stats["log_weight"].values) if "log_weight" in stats else None
    curves = bias2_curves(target, values, log_w)
    if not curves:
        return None
    cost = Cost(**{f.name: record[f.name] for f in dataclasses.fields(Cost)})
    spent = cumulative_cost(cost, values.shape[1], np.asarray(stats["n_steps"].values) if "n_steps" in stats else None)
    return {"bias2": curves["max"], "grads": spent["grads"], "seconds": spent["seconds"]}


def _tree(results, record):
    """The cell's DataTree, or None (with a warning naming the cell) when its draws cannot be read."""
    import arviz as az

    path = store.cell_dir(results, record) / store.DRAWS
    try:
        return az.from_netcdf(path)
    except (OSError, ValueError, KeyError) as err:
        warnings.warn(
            f"report: skipping the draws of cell {record['cell_id']} ({record.get('target_id')} · "
            f"{record.get('sampler_id')} seed {record.get('seed')}): cannot read {path}: {err}",
            stacklevel=2,
        )
        return None


def _figure(out: pathlib.Path, stem: str, fig, caption: str) -> str:
    path = out / "figures" / f"{stem}.png"
    store.check_inside(out, path)
    fig.savefig(path, dpi=DPI, bbox_inches="tight")
    plt.close(fig)
    return (
        f"<figure><img src='figures/{html.escape(path.name)}' alt='{html.escape(stem)}'>"
        f"<figcaption>{html.escape(caption)}</figcaption></figure>"
    )


def _page(results, sections: list[str]) -> str:
    from bench.record import timestamp

    style = (
        "body{font-family:sans-serif;max-width:1400px;margin:auto;padding:1em}"
        "table{border-collapse:collapse;font-size:12px}td,th{padding:2px 8px;text-align:right}"
        "td:first-child,th:first-child{text-align:left}tr:nth-child(even){background:#f4f4f4}"
        "td:first-child{max-width:22em;overflow-wrap:anywhere}"
        "table.key{margin:0.8em 0}table.key td,table.key th{text-align:left;max-width:none;font-family:monospace}"
        "img{max-width:100%}figure{margin:1em 0}figcaption{font-size:12px;color:#444}"
    )
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>bench report</title><style>{style}</style>"
        f"</head><body><h1>Benchmark report</h1><p>Records under {html.escape(str(results))}, "
        f"written {timestamp()}. Metrics: see docs/metrics.md (every column, generated from bench.columns).</p>\n"
        + "\n".join(sections)
        + "\n</body></html>\n"
    )


def _atomic_text(text: str, path: pathlib.Path) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, path)
