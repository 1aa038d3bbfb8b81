"""The terminal table: an exact zero bias is a number, and a Pareto k-hat above 0.5 marks ESS and bias/MCSE."""
import io

from rich.console import Console

from bench.table import results_table, worst_statistic
from targets import make_target

TARGET = make_target("gaussian", dim=2)


def _record(bias0, bias1, **extra):
    return {"status": "ok", "bias_mean_sd[x[0]]": bias0, "bias_mean_sd[x[1]]": bias1, "time_compile": 1.0,
            "time_run": 1.0, "ess_bulk_min_per_s": 100.0, "bias_mean_se[x[0]]": 0.3, **extra}


def test_an_exact_zero_bias_is_not_missing():
    """x[0]'s seeds have bias 0.0 and 0.3 (mean 0.15), x[1]'s 0.2 and 0.2: x[1] is the worst statistic. Read as
    missing, the exact 0.0 would leave x[0] a mean of 0.3 and make it the worst."""
    name, values = worst_statistic(TARGET, [_record(0.0, 0.2), _record(0.3, -0.2)])
    assert name == "x[1]" and values == [0.2, 0.2]
    assert worst_statistic(TARGET, [_record(0.0, 0.0)]) == ("x[0]", [0.0])   # all exact: a number, not missing


def _render(groups) -> str:
    console = Console(file=io.StringIO(), width=400, color_system=None)
    console.print(results_table(TARGET, groups))
    return console.file.getvalue()


def test_khat_above_one_half_marks_the_rows_ess_and_bias_over_mcse():
    """The mark "!" (bench.table.UNRELIABLE) after ESS/s and bias/MCSE of the k-hat 0.6 row, not of the 0.4 row."""
    UNRELIABLE = "!"
    common = {"log_Z_hat": 0.0, "importance_ess": 0.5}
    text = _render({"vae-is-heavy": [_record(0.1, 0.1, pareto_khat=0.6, khat_unreliable=True, **common)],
                    "vae-is-light": [_record(0.1, 0.1, pareto_khat=0.4, khat_unreliable=False, **common)]})
    heavy = next(line for line in text.splitlines() if "vae-is-heavy" in line)
    light = next(line for line in text.splitlines() if "vae-is-light" in line)
    assert heavy.count(f" {UNRELIABLE}") >= 2 and f"+0.30 {UNRELIABLE}" in heavy   # ESS/s and bias/MCSE
    assert f" {UNRELIABLE}" not in light
    assert "> 0.5" in text and "0.7" not in text                                    # the caption's threshold


def test_rhat_max_names_the_statistics_without_an_rhat():
    text = _render({"nuts": [_record(0.1, 0.1, rhat_max=1.01, rhat_not_computable="x[1]"),
                             _record(0.1, 0.1, rhat_max=1.03)]})
    row = next(line for line in text.splitlines() if "nuts" in line)
    assert "1.02 ± 0.0141 (none: x[1])" in row


def test_the_default_table_fits_120_columns_without_truncated_numbers():
    """A VAE row (long label, evidence columns) and a NUTS row over 3 seeds: the headline columns fit a
    120-column terminal with every number whole (no ellipsis); `--columns all` keeps every column."""
    import io

    import pytest

    from rich.console import Console

    from bench.table import HEADLINE, results_table, select_columns
    from targets.registry import make_target

    target = make_target("funnel")
    stat = {f"{k}[{s.name}]": v for s in target.statistics for k, v in (("mean", 0.123456), ("sd", 2.98765),
                                                                            ("bias_mean_se", -1.23456),
                                                                            ("bias_mean_sd", 0.0456789))}
    base = {"status": "ok", "ess_bulk_min_per_s": 5811.234, "ess_bulk_min_per_s_total": 90.81234,
            "ess_bulk_min_per_1k_grads": 0.7351234, "rhat_max": 1.0234567, "divergences": 5, "modes_visited": None,
            "mmd2": 0.0123456, "time_compile": 11.234, "time_run": 6.71234, **stat}
    vae = {**base, "kl_bound": 2.0123, "abs_delta_log_Z": 0.04567, "importance_ess": 0.9012, "pareto_khat": 0.61234,
           "log_Z_hat": 0.04567, "khat_unreliable": True}
    label = "vae-gibbs(depth=3,jitter=1.68,latent_dim=2,restarts=2,train_dtype=float32,train_steps=3000,width=64)"
    groups = {label: [{**vae, "ess_bulk_min_per_s_total": 90.8 + 11.3 * k} for k in range(3)],
              "nuts": [{**base, "rhat_max": 1.16 + 0.0123 * k, "divergences": 5 + k} for k in range(3)]}
    buf = io.StringIO()
    Console(file=buf, width=120).print(results_table(target, groups, select_columns(target, "headline")))
    text = buf.getvalue()
    assert "…" not in text and max(map(len, text.splitlines())) <= 120
    assert "0.735±0" in text and "1.17±0.0123" in text         # whole numbers, headline columns only
    header = text.split("┡")[0]   # the column headers (the caption below names every column)
    assert "KL" not in header and "compile" not in header and "run s" in header
    assert select_columns(target, "all") is None
    buf = io.StringIO()
    Console(file=buf, width=400).print(results_table(target, groups, select_columns(target, "all")))
    header = buf.getvalue().split("┡")[0]
    assert "KL bound" in header and "compile s" in header
    with pytest.raises(ValueError, match="unknown column 'nope'; valid: headline, all, or a list of sampler"):
        select_columns(target, "ESS/1k grads,nope")
