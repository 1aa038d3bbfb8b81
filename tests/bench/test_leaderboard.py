import numpy as np
import pandas as pd
import pytest

from bench.leaderboard import aggregate, render, write_all


def _row(sampler, seed, ess, status="ok"):
    return {
        "cell_id": f"{sampler}{seed}",
        "target": "funnel",
        "target_id": "funnel(dim=10)",
        "target.dim": 10,
        "sampler": sampler,
        "sampler_id": sampler,
        "chains": 4,
        "draws": 100,
        "warmup": 100,
        "precision": "float64",
        "device": "cpu",
        "seed": seed,
        "status": status,
        "ess_bulk_min": ess if status == "ok" else None,
    }


def test_mean_and_sd_over_seeds_equal_hand_computed():
    rows = [
        _row("nuts", 0, 10.0),
        _row("nuts", 1, 20.0),
        _row("nuts", 2, 60.0),
        _row("hmc", 0, 5.0),
        _row("hmc", 1, None, status="failed"),
    ]
    table = aggregate(rows).set_index("sampler")
    assert table.loc["nuts", "ess_bulk_min.mean"] == pytest.approx(30.0)
    assert table.loc["nuts", "ess_bulk_min.sd"] == pytest.approx(np.std([10, 20, 60], ddof=1))
    assert table.loc["nuts", "n_seeds"] == 3 and table.loc["nuts", "seeds"] == "0 1 2"
    assert table.loc["hmc", "n_seeds"] == 1 and table.loc["hmc", "n_failed"] == 1
    assert np.isnan(table.loc["hmc", "ess_bulk_min.sd"])
    assert table.loc["hmc", "target.dim"] == 10


def _fixture():
    """Two configurations on one target, three seeds each (one failed), plus a second target configuration."""
    rows = [
        _row("nuts", 0, 10.0),
        _row("nuts", 1, 20.0),
        _row("nuts", 2, 60.0),
        _row("hmc", 0, 5.0),
        _row("hmc", 1, 7.0),
        _row("hmc", 2, None, status="failed"),
    ]
    for r, run_s, bias in zip(rows, [1.0, 2.0, 3.0, 0.5, 0.7, None], [0.1, -0.3, 0.2, 0.05, -0.01, None]):
        r |= {
            "time_run": run_s,
            "worst_bias_mean_sd": bias,
            "ess_bulk_min_per_s": r["ess_bulk_min"],
            "time_compile": 4.0 if r["seed"] == 0 else 0.0,
            "version.jax": "0.7.0",
            "git_commit": "abc",
        }
    other = _row("nuts", 0, 99.0) | {"target_id": "funnel(dim=20)", "target.dim": 20, "cell_id": "other"}
    return rows + [other]


def test_aggregation_of_the_fixture_equals_hand_computed_values():
    table = aggregate(_fixture())
    assert len(table) == 3 and list(table["sampler"]) == ["nuts", "hmc", "nuts"]  # registry order per target
    hmc = table[table["sampler"] == "hmc"].iloc[0]
    assert hmc["time_run.mean"] == pytest.approx(0.6) and hmc["time_run.sd"] == pytest.approx(
        np.std([0.5, 0.7], ddof=1)
    )
    assert hmc["worst_abs_bias_mean_sd.mean"] == pytest.approx(0.03)  # |bias| per seed, then the mean
    assert hmc["time_compile.total"] == 4.0 and hmc["n_seeds"] == 2 and hmc["n_failed"] == 1
    assert hmc["cell_ids"] == "hmc0 hmc1 hmc2" and hmc["version.jax"] == "0.7.0"
    nuts = table[(table["sampler"] == "nuts") & (table["target.dim"] == 10)].iloc[0]
    assert nuts["ess_bulk_min.mean"] == pytest.approx(30.0)
    assert nuts["ess_bulk_min.sd"] == pytest.approx(np.std([10, 20, 60], ddof=1))


def test_markdown_and_latex_have_one_row_per_configuration_and_mark_the_best():
    table = aggregate(_fixture())
    md, tex = render(table, "markdown"), render(table, "latex")
    md_rows = [line for line in md.splitlines() if line.startswith("| ") and not line.startswith("| sampler")]
    assert len(md_rows) == len(table) == 3
    body = tex.split("\\midrule")
    assert tex.count("\\toprule") == 2 and tex.count("\\bottomrule") == 2  # one booktabs table per target config
    tex_rows = [line for part in body[1:] for line in part.split("\\bottomrule")[0].strip().splitlines()]
    assert len(tex_rows) == 3
    # ESS higher is better (nuts 30 > hmc 6); run time and |bias| lower is better (hmc)
    nuts_row = next(r for r in md_rows if r.startswith("| nuts") and "30.0" in r)
    hmc_row = next(r for r in md_rows if r.startswith("| hmc"))
    assert "**30.0 ± 26.5**" not in hmc_row and "0.600 ± 0.141" in hmc_row
    assert "**0.600 ± 0.141**" in hmc_row and "**0.0300 ± 0.0283**" in hmc_row
    assert "1/1" in md and "2/3" in md  # seeds ok / all
    assert "\\textbf{0.600 $\\pm$ 0.141}" in tex and "funnel(dim=10)" in tex
    assert "**30.0 ± 26.5**" in nuts_row


def test_write_all_writes_every_file(tmp_path):
    import json

    for record in _fixture():
        folder = tmp_path / "runs" / record["target"] / record["sampler"] / record["cell_id"]
        folder.mkdir(parents=True)
        (folder / "record.json").write_text(json.dumps(record))
    out = write_all(tmp_path, tmp_path / "board")
    names = sorted(p.name for p in out.iterdir())
    assert names == ["funnel.csv", "funnel.md", "funnel.tex", "leaderboard.md", "leaderboard.tex", "runs.csv"]
    runs = pd.read_csv(out / "runs.csv")
    assert len(runs) == 7 and list(runs.columns[:4]) == ["cell_id", "target", "target_id", "target.dim"]
    assert len(pd.read_csv(out / "funnel.csv")) == 3


def test_a_row_with_khat_above_one_half_is_marked_and_never_bold():
    """vae-is with Pareto k-hat 0.6 (khat_unreliable) has the best ESS/s and |bias|: its ESS and bias cells
    carry "!" and are not bold; the best reliable row (k-hat 0.4) is bold instead; the CSV counts the seeds."""

    def row(sampler_id, seed, ess, bias, khat):
        return _row("vae-is", seed, ess) | {
            "sampler_id": sampler_id,
            "cell_id": f"{sampler_id}{seed}",
            "ess_bulk_min_per_s": ess,
            "worst_bias_mean_sd": bias,
            "pareto_khat": khat,
            "khat_unreliable": khat > 0.5,
        }

    rows = [row("vae-is(inner=0)", s, 1000.0 + s, 0.01, 0.6) for s in range(2)]
    rows += [row("vae-is(inner=4)", s, 80.0 + s, 0.1, 0.4) for s in range(2)] + [_row("nuts", 0, 50.0)]
    table = aggregate(rows)
    assert list(
        table.set_index("sampler_id").loc[["vae-is(inner=0)", "vae-is(inner=4)", "nuts"], "n_khat_unreliable"]
    ) == [2, 0, 0]
    md, tex = render(table, "markdown"), render(table, "latex")
    heavy = next(line for line in md.splitlines() if line.startswith("| vae-is(inner=0)"))
    light = next(line for line in md.splitlines() if line.startswith("| vae-is(inner=4)"))
    assert "1000 ± 1 !" in heavy and "0.0100 ± 0 !" in heavy and "**" not in heavy
    assert "**80.5 ± 0.7**" in light and "**0.100 ± 0**" in light and "!" not in light
    assert "k-hat > 0.5" in md
    assert "1000 $\\pm$ 1 !" in tex and "\\textbf{1000" not in tex and "\\textbf{80.5 $\\pm$ 0.7}" in tex


def test_statistics_without_rhat_or_ess_are_named_per_configuration():
    rows = [
        _row("nuts", 0, 10.0) | {"rhat_not_computable": "x[2]", "ess_not_computable": "x[2]"},
        _row("nuts", 1, 20.0) | {"rhat_not_computable": "x[0], x[2]"},
        _row("hmc", 0, 5.0),
    ]
    table = aggregate(rows).set_index("sampler")
    assert (
        table.loc["nuts", "rhat_not_computable"] == "x[0], x[2]" and table.loc["nuts", "ess_not_computable"] == "x[2]"
    )
    assert pd.isna(table.loc["hmc", "rhat_not_computable"])


def _gmm40(sampler, seed, ess_total, bias_se, bias2, grads):
    """A gmm40 cell with its truth columns: bias2 above 0.01 at the last draw means cost to accuracy never."""
    reached = bias2 <= 0.01
    return _row(sampler, seed, 100.0) | {
        "target": "gmm40",
        "target_id": "gmm40",
        "target.dim": 2,
        "ess_bulk_min_per_s_total": ess_total,
        "bias_mean_se_max": bias_se,
        "bias2_max": bias2,
        "bias2_max_reached": reached,
        "grads_to_bias2_max": grads if reached else float("inf"),
        "seconds_to_bias2_max": 1.0 if reached else float("inf"),
        "draws_to_bias2_max": 10.0 if reached else float("inf"),
        "bias2_cost_counting": "per-draw",
    }


def test_a_fast_row_that_fails_the_truth_is_never_bold_and_a_slower_passing_row_is(tmp_path):
    """gmm40: NUTS visits half the modes (|bias|/MCSE 30, bias2 0.6) with ten times the ESS/s incl. warm-up of
    the VAE sampler, which passes. Through stored records (JSON: inf is null): NUTS is marked "NO (0/3)" and "†",
    its ESS and its cost to accuracy ("never") are not bold; the VAE sampler's ESS/s and gradients are. hmc passes in
    2 of 3 seeds: "NO (2/3)", with the failed criterion counted."""
    from bench import store

    rows = [_gmm40("nuts", s, 500.0 + s, 30.0, 0.6, None) for s in range(3)]
    rows += [_gmm40("vae-gibbs", s, 50.0 + s, 1.5, 0.004, 2e5 + s) for s in range(3)]
    rows += [_gmm40("hmc", s, 80.0, 2.0 if s else 5.0, 0.005, 1e5) for s in range(3)]
    for r in rows:
        store.write_cell(tmp_path, r)
    out = write_all(tmp_path, tmp_path / "board")
    md, tex = (out / "gmm40.md").read_text(), (out / "gmm40.tex").read_text()
    nuts = next(line for line in md.splitlines() if line.startswith("| nuts"))
    vae = next(line for line in md.splitlines() if line.startswith("| vae-gibbs"))
    hmc = next(line for line in md.splitlines() if line.startswith("| hmc"))
    assert "nuts †" in nuts and "NO (0/3)" in nuts and "never" in nuts and "**" not in nuts
    assert "yes (3/3)" in vae and "**51.0 ± 1.0**" in vae and "**2.00e+05 ± 1.00**" not in vae
    assert "NO (2/3)" in hmc and "hmc †" in hmc and "**1.00e+05**" not in hmc
    assert "**2.00e+05" in vae  # grads to bias2: best among passing rows
    assert "nuts $^\\dagger$" in tex and "\\textbf{501" not in tex and "\\textbf{51.0 $\\pm$ 1.0}" in tex
    board = pd.read_csv(out / "gmm40.csv").set_index("sampler")
    assert list(board.loc[["nuts", "vae-gibbs", "hmc"], "passes_truth"]) == [False, True, False]
    assert board.loc["hmc", "truth_failures"] == "|bias|/MCSE > 4 in 1 seed"
    assert board.loc["nuts", "truth_failures"] == "|bias|/MCSE > 4 in 3 seeds; bias² > 0.01 in 3 seeds"
    assert board.loc["nuts", "grads_to_bias2_max.mean"] == np.inf
    assert (pd.read_csv(out / "runs.csv")["grads_to_bias2_max"] == np.inf).sum() == 3


def test_a_table_without_truth_says_no_truth_and_bolds_as_before():
    table = aggregate(_fixture())
    md = render(table, "markdown")
    assert md.count("no truth") == 3 and "**30.0 ± 26.5**" in md and "†" not in md
