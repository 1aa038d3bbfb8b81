"""The report reads at a glance: every figure it makes is drawn and checked for overlapping texts, axes outside
the figure and legends over other axes (`bench.report.layout`), on a run shaped like the issue's funnel run
(four sampler configurations with long ids, 32 chains, a VAE training of 20,000 steps)."""

import ast
import dataclasses
import pathlib

import numpy as np
import pytest

from baselines.draws import Cost
from bench import store
from bench.report import layout, page
from targets.registry import make_target

CHAINS, DRAWS, STEPS = 32, 100, 20_000
SAMPLERS = {  # sampler -> its parameters (the long ids of the issue)
    "nuts": {},
    "vae-gibbs": {"depth": 3, "inner": 8, "latent_dim": 2, "steps": STEPS, "batch": 256, "jitter": 0.5},
    "vae-imh": {"depth": 3, "inner": 8, "latent_dim": 2, "steps": STEPS, "batch": 256, "jitter": 0.5},
    "vae-is": {"depth": 3, "inner": 8, "latent_dim": 2, "steps": STEPS, "batch": 256, "jitter": 0.5},
}


def _cell(out, sampler, params, seed, dim=10):
    """A cell of the funnel: exact draws as the sampler's; a noisy decreasing training bound for the VAE."""
    import jax

    target = make_target("funnel", dim=dim)
    x = np.asarray(target.sample(jax.random.key(seed), CHAINS * DRAWS)).reshape(CHAINS, DRAWS, dim)
    values = np.stack(
        [np.asarray(jax.vmap(s.fn)(x.reshape(-1, dim))).reshape(CHAINS, DRAWS) for s in target.statistics], -1
    )
    rng = np.random.default_rng(seed)
    stats = {"logdensity": np.zeros((CHAINS, DRAWS))}
    if sampler == "vae-is":
        stats["log_weight"] = rng.normal(size=(CHAINS, DRAWS)) * 0.1
    traces = None
    if sampler.startswith("vae"):
        step = np.arange(STEPS)
        traces = {
            "loss": 5 * np.exp(-step / 2000) + 0.05 + rng.normal(size=STEPS) * 2.0,
            "loss_se": np.full(STEPS, 2.0),
            "beta": np.ones(STEPS),
        }
    sampler_id = f"{sampler}({','.join(f'{k}={v}' for k, v in sorted(params.items()))})" if params else sampler
    record = {
        "cell_id": f"{sampler}-{seed}",
        "target": "funnel",
        "target_id": f"funnel(dim={dim})",
        "target.dim": dim,
        "sampler": sampler,
        "sampler_id": sampler_id,
        **{f"sampler.{k}": v for k, v in params.items()},
        "chains": CHAINS,
        "draws": DRAWS,
        "warmup": 1000,
        "seed": seed,
        "precision": "float64",
        "device": "cpu",
        "status": "ok",
        "ess_bulk_min_per_s": 100.0 * (1 + seed),
        "ess_bulk_min_per_s_total": 10.0 * (1 + seed),
        "time_run": 30.0 * (seed + 1),
        "worst_abs_bias_mean_sd": 0.1 * (1 + seed),
        **dataclasses.asdict(
            Cost(
                grad_evals_warmup=5000,
                grad_evals_sampling=10_000 * (sampler != "vae-is"),
                logdensity_evals_sampling=10_000,
                time_warmup=20.0,
                time_sampling=10.0,
            )
        ),
    }
    tree = store.to_datatree(
        x, [s.name for s in target.statistics], values, stats, {"cell_id": record["cell_id"]}, traces
    )
    store.write_cell(out, record, tree)


@pytest.fixture(scope="module")
def drawn(tmp_path_factory):
    """stem -> (layout faults, figure width in inches) of every figure the report of the run makes."""
    out = tmp_path_factory.mktemp("run")
    for seed in (0, 1):
        for sampler, params in SAMPLERS.items():
            _cell(out, sampler, params, seed)
    seen = {}
    original = page._figure

    def check(folder, stem, fig, caption):
        seen[stem] = (layout.collisions(fig), fig.get_size_inches()[0])
        return original(folder, stem, fig, caption)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(page, "_figure", check)
        report = page.write_report(out, out / "report")
    return seen, report


def test_the_report_makes_every_figure(drawn):
    seen, _ = drawn
    kinds = {stem.rsplit("-", 2)[-1] if "rank" not in stem else "rank" for stem in seen}
    assert {"draws", "cost", "bias2", "training", "rank"} <= kinds, sorted(seen)


def test_no_figure_of_the_report_has_overlapping_texts_axes_outside_or_legends_over_axes(drawn):
    seen, _ = drawn
    faults = {stem: f for stem, (f, _) in seen.items() if f}
    assert not faults, "\n".join(f"{stem}: {line}" for stem, f in faults.items() for line in f[:8])


def test_every_figure_fits_the_page_width_at_its_resolution(drawn):
    seen, _ = drawn
    wide = {stem: w * page.DPI for stem, (_, w) in seen.items() if w * page.DPI > page.WIDTH_PX}
    assert not wide, wide


def test_the_page_keys_short_labels_to_the_full_sampler_ids(drawn):
    _, report = drawn
    text = report.read_text()
    for sampler, params in SAMPLERS.items():
        if params:
            full = f"{sampler}({','.join(f'{k}={v}' for k, v in sorted(params.items()))})"
            assert f"<td>{sampler}</td><td>{full}</td>" in text


def test_the_report_modules_name_no_target():
    """The report knows a target through its fields (statistics, exact draws, `Target.plot`), never its name."""
    from targets.registry import TARGETS

    folder = pathlib.Path(page.__file__).parent
    for path in folder.glob("*.py"):
        constants = {n.value for n in ast.walk(ast.parse(path.read_text())) if isinstance(n, ast.Constant)}
        assert not constants & set(TARGETS), (path.name, constants & set(TARGETS))
        assert "import targets" not in path.read_text() and "from targets" not in path.read_text(), path.name


@pytest.mark.parametrize("name", ["gmm40", "ising", "banana", "gaussian"])
def test_each_targets_own_picture_of_its_draws_has_no_layout_fault(name):
    """Every target's `plot` (a projection with marked points and equal axes, a chosen statistic, the default)
    drawn for five samplers (a second row of panels) without layout faults."""
    import jax
    import matplotlib.pyplot as plt

    from bench.report.figures import draws_vs_exact

    target = make_target(name)
    x = np.asarray(target.sample(jax.random.key(0), 2 * 100)).reshape(2, 100, target.dim)
    values = np.stack(
        [np.asarray(jax.vmap(s.fn)(x.reshape(-1, target.dim))).reshape(2, 100) for s in target.statistics], -1
    )
    tree = store.to_datatree(
        x, [s.name for s in target.statistics], values, {"logdensity": np.zeros((2, 100))}, {"cell_id": "c"}
    )
    fig = draws_vs_exact(target, {f"sampler-{k}": tree for k in range(5)}, np.asarray(x.reshape(-1, target.dim)))
    assert layout.collisions(fig) == []
    assert fig.get_size_inches()[0] * page.DPI <= page.WIDTH_PX
    plt.close(fig)
