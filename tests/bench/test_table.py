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
