"""The terminal table: an exact zero bias is a number, a Pareto k-hat above 0.5 marks ESS and bias/MCSE, and a row
that fails the truth is marked and never bold."""

import io

import numpy as np
from rich.console import Console

from bench.table import results_table, worst_statistic
from targets import make_target

TARGET = make_target("gaussian", dim=2)


def _record(bias0, bias1, **extra):
    return {
        "status": "ok",
        "bias_mean_sd[x[0]]": bias0,
        "bias_mean_sd[x[1]]": bias1,
        "time_compile": 1.0,
        "time_run": 1.0,
        "ess_bulk_min_per_s": 100.0,
        "bias_mean_se[x[0]]": 0.3,
        **extra,
    }


def test_the_worst_statistic_is_per_seed_and_an_exact_zero_is_not_missing():
    """worst |bias|/sd is per seed (bench.columns): the seeds' worst statistics x[1] (0.2) and x[0] (0.3) give 0.2 and
    0.3, named after the earliest seed's on a tie; an exact 0.0 is a number, not a missing value."""
    assert worst_statistic(
        [
            _record(0.0, 0.2, worst_stat="x[1]", worst_bias_mean_sd=0.2),
            _record(0.3, -0.2, worst_stat="x[0]", worst_bias_mean_sd=-0.3),
        ]
    ) == ("x[1]", [0.2, 0.3])
    assert worst_statistic([_record(0.0, 0.0, worst_stat="x[0]", worst_bias_mean_sd=0.0)]) == ("x[0]", [0.0])
    name, values = worst_statistic([_record(0.1, 0.1)])  # no ground truth: no worst statistic
    assert name == "" and np.isnan(values).all()


def test_the_table_and_the_leaderboard_agree_on_the_worst_statistic():
    """One meaning of "worst |bias|/sd": the table's cell is the mean ± sd of the leaderboard's column."""
    from bench.leaderboard import aggregate, format_mean_sd

    records = [
        _record(
            0.0, 0.2, worst_stat="x[1]", worst_bias_mean_sd=0.2, seed=0, target="gaussian", sampler="nuts", cell_id="a"
        ),
        _record(
            0.3,
            -0.2,
            worst_stat="x[0]",
            worst_bias_mean_sd=-0.3,
            seed=1,
            target="gaussian",
            sampler="nuts",
            cell_id="b",
        ),
    ]
    row = aggregate(records).iloc[0]
    assert (row["worst_abs_bias_mean_sd.mean"], row["worst_abs_bias_mean_sd.sd"]) == (0.25, np.std([0.2, 0.3], ddof=1))
    cell = _cells(results_table(TARGET, {"nuts": records}), "worst |bias|/sd")[0]
    assert cell == "x[1] 0.25 ± 0.071" and format_mean_sd(0.25, np.std([0.2, 0.3], ddof=1)) == "0.250 ± 0.071"


def _render(groups) -> str:
    console = Console(file=io.StringIO(), width=400, color_system=None)
    console.print(results_table(TARGET, groups))
    return console.file.getvalue()


def test_khat_above_one_half_marks_the_rows_ess_and_bias_over_mcse():
    """The mark "!" (bench.table.UNRELIABLE) after ESS/s and bias/MCSE of the k-hat 0.6 row, not of the 0.4 row."""
    UNRELIABLE = "!"
    common = {"log_Z_hat": 0.0, "importance_ess": 0.5}
    text = _render(
        {
            "vae-is-heavy": [_record(0.1, 0.1, pareto_khat=0.6, khat_unreliable=True, **common)],
            "vae-is-light": [_record(0.1, 0.1, pareto_khat=0.4, khat_unreliable=False, **common)],
        }
    )
    heavy = next(line for line in text.splitlines() if "vae-is-heavy" in line)
    light = next(line for line in text.splitlines() if "vae-is-light" in line)
    assert heavy.count(f" {UNRELIABLE}") >= 2 and f"+0.30 {UNRELIABLE}" in heavy  # ESS/s and bias/MCSE
    assert f" {UNRELIABLE}" not in light
    assert "> 0.5" in text and "0.7" not in text  # the caption's threshold


def test_rhat_max_names_the_statistics_without_an_rhat():
    text = _render(
        {"nuts": [_record(0.1, 0.1, rhat_max=1.01, rhat_not_computable="x[1]"), _record(0.1, 0.1, rhat_max=1.03)]}
    )
    row = next(line for line in text.splitlines() if "nuts" in line)
    assert "1.02 ± 0.014 (none: x[1])" in row


def _cells(table, header):
    column = next(c for c in table.columns if c.header == header)
    return list(column.cells)


def test_gmm40_a_fast_row_that_fails_the_truth_is_not_bold_and_a_slower_passing_row_is():
    """NUTS visits half of gmm40's modes (|bias|/MCSE 30, bias² 0.6) at ten times the VAE sampler's ESS/s incl.
    warm-up: its row says NO and carries "†", and the bold ESS is the VAE sampler's, which passes."""
    target = make_target("gmm40")

    def rec(ess, bias_se, bias2, grads):
        return {
            "status": "ok",
            "time_compile": 1.0,
            "time_run": 1.0,
            "ess_bulk_min_per_s_total": ess,
            "ess_bulk_min_per_s": ess,
            "bias_mean_se_max": bias_se,
            "bias2_max": bias2,
            "bias2_max_reached": bias2 <= 0.01,
            "grads_to_bias2_max": grads,
            "seconds_to_bias2_max": 1.0,
            "bias2_avg_reached": True,
            "grads_to_bias2_avg": 1.0,
        }

    table = results_table(
        target,
        {
            "nuts": [rec(500.0, 30.0, 0.6, None)] * 2,
            "vae-gibbs": [rec(50.0, 1.0, 0.004, 2e5)] * 2,
            "hmc": [rec(80.0, 1.0, 0.004, 1e5), rec(80.0, 5.0, 0.004, 1e5)],
        },
    )
    assert _cells(table, "sampler") == ["nuts †", "vae-gibbs", "hmc †"]
    assert _cells(table, "passes truth") == ["NO (0/2)", "yes (2/2)", "NO (1/2)"]
    assert _cells(table, "ESS/s incl. warm-up") == ["500 ± 0", "[bold]50 ± 0[/bold]", "80 ± 0"]
    assert _cells(table, "grads to bias² max ≤ 0.01") == ["never", "[bold]2.00e+05 ± 0[/bold]", "1.00e+05 ± 0"]
    assert "among passing rows only" in table.caption


def _ula(key, logdensity_fn, initial_positions, *, num_warmup, num_draws, step_size=0.8):
    """Unadjusted Langevin (MALA without its Metropolis step): x' = x + h grad log p(x) + sqrt(2h) xi. On N(mu, 1)
    its stationary law is N(mu, 1 / (1 - h/2)): h = 0.8 inflates the variance by 5/3 (mean unbiased)."""
    import jax
    import jax.numpy as jnp

    from baselines.draws import Cost, Draws

    grad = jax.grad(logdensity_fn)

    def chain(key, x):
        def step(x, k):
            x = x + step_size * grad(x) + jnp.sqrt(2 * step_size) * jax.random.normal(k, x.shape)
            return x, (x, logdensity_fn(x))

        return jax.lax.scan(step, x, jax.random.split(key, num_warmup + num_draws))[1]

    chains = initial_positions.shape[0]
    x, lp = jax.jit(jax.vmap(chain))(jax.random.split(key, chains), initial_positions)
    n = chains * num_draws
    return Draws(
        positions=np.asarray(x[:, num_warmup:]),
        logdensity=np.asarray(lp[:, num_warmup:]),
        stats={},
        cost=Cost(grad_evals_warmup=chains * num_warmup, grad_evals_sampling=n, time_sampling=1e-3),
    )


def _exact(key, logdensity_fn, initial_positions, *, num_warmup, num_draws):
    """Iid exact draws of the isotropic Gaussian below, slow by its cost account (100 s)."""
    from baselines.draws import Cost, Draws

    chains, dim = initial_positions.shape
    x = np.asarray(ISOTROPIC.sample(key, chains * num_draws)).reshape(chains, num_draws, dim)
    return Draws(
        positions=x,
        logdensity=np.zeros((chains, num_draws)),
        stats={},
        cost=Cost(grad_evals_sampling=chains * num_draws * 100, time_sampling=100.0),
    )


ISOTROPIC = make_target("gaussian", dim=2, condition=1.0)


def test_a_biased_sampler_never_passes_truth_and_is_never_bold():
    """Unadjusted Langevin with a large step (variance 5/3 of the truth; its E[x^2] is off by 2/3 against sd[x^2]
    of 1.8 and 1.6: bias² about 0.14 and 0.18, over ten times the threshold) fails the truth through bias² although
    its means are unbiased; with 1,000 x 4 draws (ESS of x^2 in the thousands) the sampling error of bias² is a
    few percent of that. Its ESS/s dwarfs the exact sampler's,
    yet the bold ESS/s is the exact sampler's, which passes (iid: bias² ~ 1/4000)."""
    from bench.metrics.truth import passes_truth, truth_failures
    from bench.run import Budget, run_cell
    from bench.samplers import Sampler

    budget = Budget(chains=4, draws=1000, warmup=10)
    ula = run_cell(ISOTROPIC, Sampler("ula", _ula, "unadjusted Langevin"), {}, 0, budget, None)
    exact = run_cell(ISOTROPIC, Sampler("exact", _exact, "iid exact draws"), {}, 0, budget, None)
    assert ula["status"] == exact["status"] == "ok"
    assert passes_truth(ula) is False and any(f.startswith("bias²") for f in truth_failures(ula))
    assert not ula["bias2_max_reached"] and ula["grads_to_bias2_max"] == float("inf")
    assert passes_truth(exact) is True and exact["bias2_max_reached"]
    assert ula["ess_bulk_min_per_s"] > 100 * exact["ess_bulk_min_per_s"]
    table = results_table(ISOTROPIC, {"ula": [ula], "exact": [exact]})
    assert _cells(table, "sampler") == ["ula †", "exact"]
    ess = _cells(table, "ESS/s")
    assert not ess[0].startswith("[bold]") and ess[1].startswith("[bold]")
    assert _cells(table, "grads to bias² max ≤ 0.01")[0] == "never"


def test_the_default_table_fits_120_columns_without_truncated_numbers():
    """A VAE row (long label, evidence columns) and a NUTS row over 3 seeds: the headline columns fit a
    120-column terminal with every number whole (no ellipsis); `--columns all` keeps every column."""
    import io

    import pytest
    from rich.console import Console

    from bench.table import results_table, select_columns
    from targets.registry import make_target

    target = make_target("funnel")
    stat = {
        f"{k}[{s.name}]": v
        for s in target.statistics
        for k, v in (("mean", 0.123456), ("sd", 2.98765), ("bias_mean_se", -1.23456), ("bias_mean_sd", 0.0456789))
    }
    base = {
        "status": "ok",
        "ess_bulk_min_per_s": 5811.234,
        "ess_bulk_min_per_s_total": 90.81234,
        "ess_bulk_min_per_1k_grads": 0.7351234,
        "rhat_max": 1.0234567,
        "divergences": 5,
        "modes_visited": None,
        "mmd2": 0.0123456,
        "time_compile": 11.234,
        "time_run": 6.71234,
        **stat,
    }
    vae = {
        **base,
        "kl_bound": 2.0123,
        "abs_delta_log_Z": 0.04567,
        "importance_ess": 0.9012,
        "pareto_khat": 0.61234,
        "log_Z_hat": 0.04567,
        "khat_unreliable": True,
    }
    label = "vae-gibbs(depth=3,jitter=1.68,latent_dim=2,restarts=2,train_dtype=float32,train_steps=3000,width=64)"
    groups = {
        label: [{**vae, "ess_bulk_min_per_s_total": 90.8 + 11.3 * k} for k in range(3)],
        "nuts": [{**base, "rhat_max": 1.16 + 0.0123 * k, "divergences": 5 + k} for k in range(3)],
        # the widest values a real funnel run gives (ChEES: many chains, few ESS per gradient)
        "chees": [
            {
                **base,
                "ess_bulk_min_per_1k_grads": 0.00239 + 0.00114 * (k - 1),
                "rhat_max": 1.01 + 0.0043 * (k - 1),
                "divergences": [0, 0, 1][k],
            }
            for k in range(3)
        ],
    }
    from rich.measure import Measurement

    console = Console(file=io.StringIO(), width=120)
    table = results_table(target, groups, select_columns(target, "headline"))
    # its natural width: rich crops a wider table at the terminal's edge, silently cutting the last columns
    assert Measurement.get(console, console.options, table).maximum <= 120
    console.print(table)
    text = console.file.getvalue()
    assert "…" not in text and max(map(len, text.splitlines())) <= 120
    assert "0.735±0" in text and "1.17±0.012" in text and "0.00239±0.0011" in text  # whole numbers
    header = text.split("┡")[0]  # the column headers (the caption below names every column)
    assert "KL" not in header and "compile" not in header and "run s" not in header
    assert select_columns(target, "all") is None
    buf = io.StringIO()
    Console(file=buf, width=400).print(results_table(target, groups, select_columns(target, "all")))
    header = buf.getvalue().split("┡")[0]
    assert "KL bound" in header and "compile s" in header
    with pytest.raises(ValueError, match="unknown column 'nope'; valid: headline, all, or a list of sampler"):
        select_columns(target, "ESS/1k grads,nope")
