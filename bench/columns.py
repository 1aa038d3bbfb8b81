"""The columns of the results, each defined once and read by the table, the leaderboards and the documentation.

The terminal table (`bench.table`), the leaderboards (`bench.leaderboard`) and the documentation (`describe`)
read them from here.

`COLUMNS` is in the terminal table's order. A column's values are per seed (a record's `key`) and shown as
mean ± sd over the seeds that finished (the leaderboards' `<key>.mean`, `<key>.sd`). "worst |bias|/sd" means
one thing everywhere: per seed, the largest |bias of the mean| in true sds over the statistics (the record's
`worst_bias_mean_sd`, in absolute value), then mean ± sd over seeds; the terminal table names the statistic
that is worst in most seeds.
"""

from __future__ import annotations

import dataclasses

# When the terminal table shows a column (`Column.shown`): always, or where the target or the records have
# what it needs. A target's capability is one of its fields (`modes`, `wells`, `sample`), never its name.
SHOWN = {
    "always": "every table",
    "cost": "records with a cost to accuracy (a target with ground truth)",
    "modes": "a target that declares its modes (`Target.modes`)",
    "wells": "a target that declares its wells (`Target.wells`)",
    "sample": "a target with exact draws (`Target.sample`)",
    "transport": "records with transport distances (`sinkhorn`, `entropic_w2`)",
    "weights": "records with importance weights (`log_Z_hat`: the VAE samplers, SMC)",
}


@dataclasses.dataclass(frozen=True)
class Column:
    """One column of the results. `header` may hold `{h}`, the target's headline statistic.

    Raises
    ------
    ValueError
        When `better` is not "higher", "lower" or None, or `shown` not a key of SHOWN.
    """

    key: str  # the record's key (per seed); the leaderboards hold `<key>.mean` and `<key>.sd`
    header: str  # the header of the table and the leaderboards (plain text: renderings escape it)
    description: str  # what it means (captions and docs)
    name: str = ""  # its name for `--columns` (default: the header)
    short: str = ""  # its header in the terminal's headline table (default: the name)
    latex: str = ""  # its LaTeX header (default: the header)
    better: str | None = None  # "higher" or "lower": the best mean is bold (None: not ranked)
    efficiency: bool = False  # an efficiency figure: bold only among the rows that pass the truth
    khat: bool = False  # unreliable (marked "!", never bold) when the row's Pareto k-hat > KHAT_MAX
    headline: bool = False  # in the terminal's headline table (`--columns headline`, the default)
    digits: int = 3  # significant digits in the terminal table
    signed: bool = False  # a sign on positive values in the terminal table
    shown: str = "always"  # when the terminal table has it (a key of SHOWN)

    def __post_init__(self):
        if self.better not in (None, "higher", "lower") or self.shown not in SHOWN:
            raise ValueError(
                f"column {self.key!r}: better must be higher, lower or None and shown one of "
                f"{', '.join(SHOWN)}; got {self.better!r}, {self.shown!r}"
            )
        for attr, default in (("name", self.header), ("latex", self.header)):
            if not getattr(self, attr):
                object.__setattr__(self, attr, default)
        if not self.short:
            object.__setattr__(self, "short", self.name)

    @property
    def markdown(self) -> str:
        """The header in a Markdown pipe table (`|` escaped)."""
        return self.header.replace("|", "\\|")


_ESS = "smallest bulk ESS over the statistics"
_COST = (
    "the gradient evaluations, warm-up and training included, until bias² over the statistics ({which}) stays "
    "<= 0.01 (bench.metrics.cost); never: not within the budget in some seed"
)

COLUMNS: tuple[Column, ...] = (
    Column(
        "sampler_id",
        "sampler",
        "the sampler configuration: its name and the parameters given or set by the "
        "target's defaults; the leaderboards add the budget, precision or device where rows differ in them",
        headline=True,
    ),
    Column("n_seeds", "seeds ok", "seeds that finished / seeds run", short="seeds", headline=True),
    Column(
        "passes_truth",
        "passes truth",
        "seeds passing / seeds with ground truth: |bias|/MCSE <= 4 for every "
        "statistic, bias² max <= 0.01, Pareto k-hat <= 0.5 for weighted draws (bench.metrics.truth); † after the "
        "label of a row that fails in some seed",
        short="truth",
        headline=True,
    ),
    Column(
        "ess_bulk_min_per_s", "ESS/s", f"{_ESS} per second of sampling", better="higher", efficiency=True, khat=True
    ),
    Column(
        "ess_bulk_min_per_s_total",
        "ESS/s incl. warm-up",
        f"{_ESS} per second of warm-up (or training) and sampling, compile time excluded",
        short="ESS/s all",
        latex="ESS/s (incl.\\ warm-up)",
        better="higher",
        efficiency=True,
        khat=True,
        headline=True,
    ),
    Column(
        "ess_bulk_min_per_1k_grads",
        "ESS/1k grads",
        f"{_ESS} per 1,000 gradient evaluations, warm-up and training included",
        short="ESS/1kg",
        better="higher",
        efficiency=True,
        khat=True,
        headline=True,
    ),
    Column(
        "rhat_max",
        "R-hat max",
        "the largest rank-normalised split R-hat over the statistics where it is "
        "computable (the table names those where it is not, e.g. constant within every chain)",
        short="R-hat",
        latex="$\\hat R$ max",
        better="lower",
        headline=True,
    ),
    Column(
        "mean[{h}]",
        "E[{h}]",
        "the estimate of the headline statistic's mean (its truth in the header)",
        name="E",
        signed=True,
    ),
    Column("sd[{h}]", "sd[{h}]", "the estimate of the headline statistic's sd (its truth in the header)", name="sd"),
    Column(
        "bias_mean_se[{h}]",
        "bias/MCSE",
        "the headline statistic's mean bias in Monte Carlo standard errors",
        khat=True,
        headline=True,
        digits=2,
        signed=True,
    ),
    Column(
        "worst_abs_bias_mean_sd",
        "worst |bias|/sd",
        "per seed the largest |bias of the mean| in true sds over "
        "the statistics (|worst_bias_mean_sd|), then mean ± sd over seeds; the table names the statistic that "
        "is worst in most seeds",
        name="worst",
        latex="worst $|\\mathrm{bias}|/\\mathrm{sd}$",
        better="lower",
        khat=True,
        headline=True,
        digits=2,
    ),
    Column("divergences", "div.", "divergent transitions after warm-up", better="lower", headline=True, digits=2),
    Column(
        "bias2_max",
        "bias² max",
        "the largest bias2 = (Ê[f²] - E[f²])² / Var[f²] over the statistics with a "
        "known sd[f²] (below 0.01 counts as converged)",
        latex="bias$^2$ max",
        better="lower",
        khat=True,
        digits=2,
        shown="cost",
    ),
    Column(
        "grads_to_bias2_max",
        "grads to bias² max ≤ 0.01",
        _COST.format(which="the max"),
        name="grads to bias² max",
        latex="grads to bias$^2_{\\max} \\le 0.01$",
        better="lower",
        efficiency=True,
        shown="cost",
    ),
    Column(
        "grads_to_bias2_avg",
        "grads to bias² avg ≤ 0.01",
        _COST.format(which="their average"),
        name="grads to bias² avg",
        latex="grads to bias$^2_{\\mathrm{avg}} \\le 0.01$",
        better="lower",
        efficiency=True,
        shown="cost",
    ),
    Column(
        "seconds_to_bias2_max",
        "s to bias² max ≤ 0.01",
        _COST.format(which="the max").replace("the gradient evaluations", "the seconds"),
        name="s to bias² max",
        latex="s to bias$^2_{\\max} \\le 0.01$",
        better="lower",
        efficiency=True,
        shown="cost",
    ),
    Column("modes_visited", "modes", "modes visited / the target's modes", headline=True, shown="modes"),
    Column(
        "emc",
        "EMC",
        "entropic mode coverage -Σ p_k log p_k / log K of the modes visited",
        better="higher",
        shown="modes",
    ),
    Column(
        "well_patterns_visited",
        "well patterns (exact draws)",
        "distinct well-sign patterns among the draws (the mean number that as many independent exact draws visit)",
        name="well patterns",
        shown="wells",
    ),
    Column(
        "well_upper_min",
        "upper-well frac",
        "the fraction of draws in each well's upper mode, smallest..largest over the wells (the truth in the header)",
        shown="wells",
    ),
    Column(
        "mmd2",
        "MMD²",
        "MMD² to 1,000 exact draws (Gaussian kernel, median bandwidth; weighted draws: the weighted statistic)",
        latex="MMD$^2$",
        better="lower",
        digits=2,
        shown="sample",
    ),
    Column(
        "sinkhorn",
        "Sinkhorn (ε=1e-3)",
        "the Sinkhorn divergence to 2,000 exact draws, squared Euclidean "
        "cost, ε = 1e-3 (ott-jax); ! where the solve stopped unconverged",
        name="Sinkhorn",
        digits=2,
        shown="transport",
    ),
    Column(
        "entropic_w2",
        "entropic W2 (ε=0.05)",
        "sqrt of the transport cost of the entropic plan at ε = 0.05 to the same exact draws, in units of x",
        name="entropic W2",
        digits=2,
        shown="transport",
    ),
    Column(
        "kl_bound",
        "KL bound",
        "L + log Z, an upper bound on KL(q ‖ target) (VAE samplers, where log Z is known)",
        better="lower",
        digits=2,
        shown="weights",
    ),
    Column(
        "abs_delta_log_Z",
        "|Δ log Z|",
        "|log Ẑ - log Z| from the importance weights",
        latex="$|\\Delta \\log Z|$",
        better="lower",
        digits=2,
        shown="weights",
    ),
    Column(
        "importance_ess",
        "IS ESS",
        "normalised importance ESS (Σw)²/(N Σw²) of the weights: vae-is's and "
        "vae-imh's own "
        "(K = inner, t = temperature), for vae-gibbs and vae-hybrid the joint K=0 weights of the VAE",
        better="higher",
        digits=2,
        shown="weights",
    ),
    Column(
        "pareto_khat",
        "Pareto k̂",
        "the Pareto k̂ of the same weights' right tail (ArviZ's PSIS estimator); "
        "above 0.5 their variance is infinite and the row's ESS, MCSE and bias are unreliable: !",
        latex="Pareto $\\hat k$",
        better="lower",
        digits=2,
        shown="weights",
    ),
    Column("time_compile", "compile s", "compilation seconds, all seeds together (compiled once, reused)", digits=2),
    Column("time_run", "run s", "warm-up and sampling seconds per seed", better="lower", digits=2),
)

BY_KEY = {c.key: c for c in COLUMNS}
BY_NAME = {c.name: c for c in COLUMNS}
if len(BY_KEY) != len(COLUMNS) or len(BY_NAME) != len(COLUMNS):
    raise ValueError("bench.columns: two columns share a key or a name")


def describe() -> list[tuple[str, str, str]]:
    """(header, record key, meaning) of every column in order, for the documentation.

    Returns
    -------
    list of tuple of (str, str, str)
        One (header, key, description) per column of COLUMNS.
    """
    return [(c.header, c.key, c.description) for c in COLUMNS]
