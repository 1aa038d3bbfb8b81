import numpy as np
import pandas as pd
import pytest

from bench.leaderboard import aggregate, render, write_all


def _row(sampler, seed, ess, status="ok"):
    return {"cell_id": f"{sampler}{seed}", "target": "funnel", "target_id": "funnel(dim=10)", "target.dim": 10,
            "sampler": sampler, "sampler_id": sampler, "chains": 4, "draws": 100, "warmup": 100,
            "precision": "float64", "device": "cpu", "seed": seed, "status": status,
            "ess_bulk_min": ess if status == "ok" else None}


def test_mean_and_sd_over_seeds_equal_hand_computed():
    rows = [_row("nuts", 0, 10.0), _row("nuts", 1, 20.0), _row("nuts", 2, 60.0), _row("hmc", 0, 5.0),
            _row("hmc", 1, None, status="failed")]
    table = aggregate(rows).set_index("sampler")
    assert table.loc["nuts", "ess_bulk_min.mean"] == pytest.approx(30.0)
    assert table.loc["nuts", "ess_bulk_min.sd"] == pytest.approx(np.std([10, 20, 60], ddof=1))
    assert table.loc["nuts", "n_seeds"] == 3 and table.loc["nuts", "seeds"] == "0 1 2"
    assert table.loc["hmc", "n_seeds"] == 1 and table.loc["hmc", "n_failed"] == 1
    assert np.isnan(table.loc["hmc", "ess_bulk_min.sd"])
    assert table.loc["hmc", "target.dim"] == 10


def _fixture():
    """Two configurations on one target, three seeds each (one failed), plus a second target configuration."""
    rows = [_row("nuts", 0, 10.0), _row("nuts", 1, 20.0), _row("nuts", 2, 60.0),
            _row("hmc", 0, 5.0), _row("hmc", 1, 7.0), _row("hmc", 2, None, status="failed")]
    for r, run_s, bias in zip(rows, [1.0, 2.0, 3.0, 0.5, 0.7, None], [0.1, -0.3, 0.2, 0.05, -0.01, None]):
        r |= {"time_run": run_s, "worst_bias_mean_sd": bias, "ess_bulk_min_per_s": r["ess_bulk_min"], "time_compile": 4.0 if r["seed"] == 0 else 0.0,
              "version.jax": "0.7.0", "git_commit": "abc"}
    other = _row("nuts", 0, 99.0) | {"target_id": "funnel(dim=20)", "target.dim": 20, "cell_id": "other"}
    return rows + [other]


def test_aggregation_of_the_fixture_equals_hand_computed_values():
    table = aggregate(_fixture())
    assert len(table) == 3 and list(table["sampler"]) == ["nuts", "hmc", "nuts"]  # registry order per target
    hmc = table[table["sampler"] == "hmc"].iloc[0]
    assert hmc["time_run.mean"] == pytest.approx(0.6) and hmc["time_run.sd"] == pytest.approx(np.std([0.5, 0.7], ddof=1))
    assert hmc["worst_abs_bias_mean_sd.mean"] == pytest.approx(0.03)   # |bias| per seed, then the mean
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
    assert "1/1" in md and "2/3" in md                                  # seeds ok / all
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
        return _row("vae-is", seed, ess) | {"sampler_id": sampler_id, "cell_id": f"{sampler_id}{seed}",
                                             "ess_bulk_min_per_s": ess, "worst_bias_mean_sd": bias,
                                             "pareto_khat": khat, "khat_unreliable": khat > 0.5}
    rows = [row("vae-is(inner=0)", s, 1000.0 + s, 0.01, 0.6) for s in range(2)]
    rows += [row("vae-is(inner=4)", s, 80.0 + s, 0.1, 0.4) for s in range(2)] + [_row("nuts", 0, 50.0)]
    table = aggregate(rows)
    assert list(table.set_index("sampler_id").loc[["vae-is(inner=0)", "vae-is(inner=4)", "nuts"],
                                                  "n_khat_unreliable"]) == [2, 0, 0]
    md, tex = render(table, "markdown"), render(table, "latex")
    heavy = next(line for line in md.splitlines() if line.startswith("| vae-is(inner=0)"))
    light = next(line for line in md.splitlines() if line.startswith("| vae-is(inner=4)"))
    assert "1000 ± 1 !" in heavy and "0.0100 ± 0 !" in heavy and "**" not in heavy
    assert "**80.5 ± 0.7**" in light and "**0.100 ± 0**" in light and "!" not in light
    assert "k-hat > 0.5" in md
    assert "1000 $\\pm$ 1 !" in tex and "\\textbf{1000" not in tex and "\\textbf{80.5 $\\pm$ 0.7}" in tex


def test_statistics_without_rhat_or_ess_are_named_per_configuration():
    rows = [_row("nuts", 0, 10.0) | {"rhat_not_computable": "x[2]", "ess_not_computable": "x[2]"},
            _row("nuts", 1, 20.0) | {"rhat_not_computable": "x[0], x[2]"}, _row("hmc", 0, 5.0)]
    table = aggregate(rows).set_index("sampler")
    assert table.loc["nuts", "rhat_not_computable"] == "x[0], x[2]" and table.loc["nuts", "ess_not_computable"] == "x[2]"
    assert pd.isna(table.loc["hmc", "rhat_not_computable"])
