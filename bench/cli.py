"""`python -m bench`: list targets and samplers, run samplers on a target or a sweep, tabulate and report.

`--target` takes a registered name, a plugin's name, or `module:function` / `path/to/file.py:function` naming a
factory returning a Target (with `--param`s), a ready Target or a numpyro model (`targets.posteriors.load_spec`);
`--sampler` likewise takes names and specs of run functions with the sampler contract (`bench.samplers`).
`check-sampler` and `check-target` test a sampler's or a target's conformance (`bench.check`). `reference`
computes a posterior's reference draws (posteriordb's criteria).

Exit codes: 0 all cells finished, 1 some cell failed (its reason is in its record and the table),
2 bad input (unknown target, sampler or parameter; bad value; bad sweep file; results folder not writable;
a budget whose draws cannot fit in this machine's memory), 130 interrupted (Ctrl-C; the cells finished
before it are kept).
"""

from __future__ import annotations

import argparse
import pathlib
import sys
from collections.abc import Sequence

DEFAULT_SAMPLERS = "nuts,hmc"
INTERRUPTED = 130  # 128 + SIGINT, the shell's code for a command stopped by Ctrl-C


def out_folder(text: str) -> pathlib.Path:
    """An `--out` folder; an empty one is refused (it would be the current folder).

    Parameters
    ----------
    text
        The option's value.

    Returns
    -------
    pathlib.Path
        The folder.

    Raises
    ------
    argparse.ArgumentTypeError
        When `text` is empty or blank.
    """
    if not text.strip():
        raise argparse.ArgumentTypeError("must name a folder, got '' (that would write into the current folder)")
    return pathlib.Path(text)


def build_parser() -> argparse.ArgumentParser:
    from bench.samplers import SAMPLERS
    from targets.registry import TARGETS

    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="targets with their parameters and ground truth; samplers")
    run = sub.add_parser("run", help="run samplers on one target over seeds; print a table, write records and CSVs")
    run.add_argument(
        "--target",
        required=True,
        metavar="NAME",
        help=f"one of: {', '.join(sorted(TARGETS))}; or module:function or path/to/file.py:function "
        "(a factory returning a Target, a Target, or a numpyro model)",
    )
    run.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="target parameter, repeatable (e.g. --param dim=20); see `list`",
    )
    run.add_argument(
        "--sampler",
        default=DEFAULT_SAMPLERS,
        metavar="A,B",
        help=f"comma-separated samplers (default {DEFAULT_SAMPLERS}); one of: {', '.join(SAMPLERS)}; "
        "or module:function or path/to/file.py:function (a run function with the sampler contract)",
    )
    run.add_argument(
        "--sampler-param",
        action="append",
        default=[],
        metavar="[SAMPLER.]KEY=VALUE",
        help="sampler parameter, repeatable; without a prefix it applies to every sampler that has it",
    )
    run.add_argument("--seeds", default="0", metavar="0,1,2", help="comma-separated integer seeds (default 0)")
    run.add_argument("--chains", type=int, default=4, help="chains per run (default 4)")
    run.add_argument("--draws", type=int, default=1000, help="draws kept per chain (default 1000)")
    run.add_argument("--warmup", type=int, default=1000, help="warm-up (tuning) steps per chain (default 1000)")
    run.add_argument(
        "--out",
        type=out_folder,
        default=pathlib.Path("results"),
        help="results folder (default results/): runs/ holds records and draws, leaderboard/ the CSVs",
    )
    run.add_argument(
        "--precision",
        choices=["float64", "float32"],
        default=None,
        help="JAX float precision (default float64; the accelerator profile's float32 on the "
        "targets it was measured on: bench/profile.py)",
    )
    run.add_argument(
        "--profile",
        choices=["cpu", "accelerator"],
        default=None,
        help="device profile (bench/profile.py; default accelerator on a GPU or TPU, else cpu): "
        "accelerator = VAE batch_size 1024, vectorized chains, float32 where measured to hold "
        "(funnel); recorded in every row",
    )
    run.add_argument(
        "--devices",
        type=int,
        default=None,
        metavar="N",
        help="spread each run's chains over the first N visible devices (default: all; one CPU "
        "device unless XLA_FLAGS forces more); recorded in every row, and in the cell's id when not 1",
    )
    run.add_argument("--no-progress", action="store_true", help="no progress bar")
    run.add_argument(
        "--columns",
        default="headline",
        metavar="headline|all|A,B",
        help="table columns: headline (default; fits 120 columns), all, or a comma-separated list of "
        "column names (see --columns all); the CSVs hold every column anyway",
    )

    for kind in ("sampler", "target"):
        check = sub.add_parser(
            f"check-{kind}",
            help=f"conformance checks of a {kind} (shapes, costs, exactness...); "
            "exit 0 all passed, 1 some failed, 2 bad input",
        )
        check.add_argument(
            "spec",
            metavar="SPEC",
            help=f"a registered {kind} name, a plugin's, or module:function / path/to/file.py:function",
        )
        check.add_argument(
            "--param" if kind == "target" else "--sampler-param",
            action="append",
            default=[],
            dest="params",
            metavar="KEY=VALUE",
            help=f"{kind} parameter, repeatable",
        )
        check.add_argument("--seed", type=int, default=0, help="seed of the checks (default 0)")
        if kind == "sampler":
            check.add_argument("--chains", type=int, default=4, help="chains (default 4)")
            check.add_argument("--draws", type=int, default=1000, help="draws per chain (default 1000)")
            check.add_argument("--warmup", type=int, default=500, help="warm-up steps per chain (default 500)")
            check.add_argument(
                "--no-exactness",
                action="store_true",
                help="skip the moments check (default: run it unless the sampler says exact = False)",
            )
        else:
            check.add_argument(
                "--draws", type=int, default=20000, help="exact draws and importance draws (default 20000)"
            )

    sweep = sub.add_parser("sweep", help="run a grid of targets x samplers x seeds from a TOML file; resumable")
    sweep.add_argument("config", type=pathlib.Path, metavar="CONFIG.toml", help="the sweep file (see configs/)")
    sweep.add_argument("--out", type=out_folder, default=None, help="results folder (overrides the file's `out`)")
    sweep.add_argument(
        "--executor",
        choices=["local", "dask", "slurm"],
        default=None,
        help="where the cells run (overrides [executor] kind; options come from the file)",
    )
    sweep.add_argument("--workers", type=int, default=None, help="local executor: worker processes (default 1)")
    sweep.add_argument(
        "--retry-failed",
        action="store_true",
        help="recompute cells whose record says failed (default: skip them like finished ones)",
    )
    sweep.add_argument("--dry-run", action="store_true", help="check the file and list the cells left; run nothing")
    sweep.add_argument("--no-progress", action="store_true", help="no progress bar")
    sweep.add_argument(
        "--profile",
        choices=["cpu", "accelerator"],
        default=None,
        help="device profile (default: by each worker's device; see `run --profile`); the file's "
        "`precision`, when given, wins over the profile's",
    )

    board = sub.add_parser(
        "leaderboard", help="CSV, Markdown and LaTeX leaderboards from the records of a results folder"
    )
    board.add_argument(
        "--results",
        type=pathlib.Path,
        default=pathlib.Path("results"),
        help="results folder holding runs/ (default results/)",
    )
    board.add_argument("--out", type=out_folder, default=None, help="where to write (default RESULTS/leaderboard)")

    report = sub.add_parser("report", help="static HTML report with figures per target from a results folder")
    report.add_argument(
        "--results",
        type=pathlib.Path,
        default=pathlib.Path("results"),
        help="results folder holding runs/ (default results/)",
    )
    report.add_argument("--out", type=out_folder, default=None, help="where to write (default RESULTS/report)")

    ref = sub.add_parser(
        "reference",
        help="compute a posterior's reference draws with a long NUTS run and check them against posteriordb's criteria",
    )
    ref.add_argument("--target", required=True, metavar="NAME", help="a posterior: registered name or module:function")
    ref.add_argument("--chains", type=int, default=10, help="chains (default 10)")
    ref.add_argument("--warmup", type=int, default=10_000, help="warm-up iterations per chain (default 10000)")
    ref.add_argument(
        "--iterations",
        type=int,
        default=10_000,
        help="post-warm-up iterations per chain, before thinning (default 10000)",
    )
    ref.add_argument("--thin", type=int, default=10, help="keep every thin-th iteration (default 10)")
    ref.add_argument("--seed", type=int, default=0, help="seed (default 0)")
    ref.add_argument("--target-acceptance", type=float, default=0.8, help="NUTS target acceptance (default 0.8)")
    ref.add_argument("--dense-mass", action="store_true", help="adapt a dense mass matrix (correlated posteriors)")
    ref.add_argument("--max-doublings", type=int, default=10, help="NUTS maximum tree depth (default 10)")
    ref.add_argument(
        "--from",
        dest="source",
        metavar="OTHER",
        help="derive the draws from OTHER's stored reference, the same posterior in other coordinates "
        "(e.g. --target eight_schools --from eight_schools_nc)",
    )
    ref.add_argument(
        "--out",
        type=out_folder,
        default=None,
        help="where to write the .npz (default: targets/data/reference/<name>.npz for the standard set); "
        "a reference that fails the checks is written only to an explicit --out",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from bench.extras import MissingExtra

    try:
        return _main(argv)
    except MissingExtra as err:  # a feature whose optional dependencies are not installed: a usage error
        print(f"python -m bench: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # outside the loops that handle it themselves (e.g. while starting up)
        print("interrupted", file=sys.stderr)
        return INTERRUPTED


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "list":
        return cmd_list()
    if args.command == "sweep":
        return cmd_sweep(parser, args)
    if args.command == "leaderboard":
        return cmd_leaderboard(parser, args)
    if args.command == "report":
        return cmd_report(parser, args)
    if args.command == "reference":
        return cmd_reference(parser, args)
    if args.command in ("check-sampler", "check-target"):
        return cmd_check(parser, args)
    return cmd_run(parser, args)


def cmd_list() -> int:
    from rich.table import Table

    from bench.params import describe
    from bench.samplers import BUDGET_ARGS, SAMPLERS, get_sampler, plugins as sampler_plugins
    from targets.registry import TARGETS, built, factory_of, plugins as target_plugins, source

    console = _console()
    table = Table(title="targets (--target NAME --param KEY=VALUE)", title_justify="left")
    for c in ("name", "parameters", "ground truth", "source"):
        table.add_column(c)
    for name in [*TARGETS, *target_plugins()]:
        try:
            factory = factory_of(name)
            t = built(factory, {})  # kept: a later `run` of the same target reuses it and its compilations
        except Exception as err:  # noqa: BLE001 - a broken plugin is listed with its error, not fatal
            table.add_row(name, "–", f"cannot build it: {type(err).__name__}: {err}", source(name))
            continue
        truth = [f"{len(t.statistics)} statistics" + ("" if t.truth else " (mean, sd)")]
        truth += [t.truth] if t.truth else []
        truth += ["exact draws"] if t.sample is not None else []
        truth += [f"log Z = {t.log_Z:g}"] if t.log_Z is not None else []
        truth += [f"{t.modes.count} modes"] if t.modes is not None else []
        table.add_row(name, describe(factory), ", ".join(truth), source(name))
    console.print(table)
    table = Table(title="samplers (--sampler A,B --sampler-param [SAMPLER.]KEY=VALUE)", title_justify="left")
    for c in ("name", "parameters", "description", "source"):
        table.add_column(c)
    for name in [*SAMPLERS, *sampler_plugins()]:
        try:
            s = get_sampler(name)
        except ValueError as err:  # a broken plugin
            table.add_row(name, "–", str(err), "plugin")
            continue
        table.add_row(name, describe(s.run, BUDGET_ARGS), s.description, s.source)
    console.print(table)
    return 0


def _console():
    """A console that does not squeeze tables to 80 columns when written to a file or pipe."""
    from rich.console import Console

    console = Console()
    return console if console.is_terminal else Console(width=220)


def _parse_run(parser, args):
    """Validate everything before any computation; errors go through `parser.error` (exit 2)."""
    from bench.params import ParamError, parameters, parse_params
    from bench.resources import check_fits
    from bench.run import Budget
    from bench.samplers import BUDGET_ARGS, SAMPLERS, get_sampler, plugins

    names = [s.strip() for s in args.sampler.split(",")]
    unknown = [n for n in names if n not in SAMPLERS and n not in plugins() and ":" not in n]
    if unknown:
        parser.error(
            f"unknown sampler {', '.join(map(repr, unknown))}; valid samplers: "
            f"{', '.join([*SAMPLERS, *plugins()])}; or module:function or path/to/file.py:function"
        )
    if len(set(names)) != len(names):
        parser.error(f"--sampler lists a sampler twice: {args.sampler!r}")
    try:
        resolved = {n: get_sampler(n) for n in names}  # a spec that does not resolve or fit the contract: exit 2
    except ValueError as err:
        parser.error(str(err))
    if len({s.name for s in resolved.values()}) != len(names):
        parser.error(f"--sampler: two samplers have the same name ({', '.join(s.name for s in resolved.values())})")
    try:
        seeds = [int(s) for s in args.seeds.split(",")]
        if min(seeds) < 0 or max(seeds) >= 2**32 or len(set(seeds)) != len(seeds):
            raise ValueError
    except ValueError:
        parser.error(f"--seeds must be distinct comma-separated integers in [0, 2^32), got {args.seeds!r}")
    try:
        budget = Budget(args.chains, args.draws, args.warmup)
        target = resolve_target(parser, args.target, args.param)
        check_fits(budget.chains, budget.draws, budget.warmup, target.dim, args.precision)
        sampler_params = {n: [] for n in names}
        for item in args.sampler_param:
            head, _, rest = item.partition("=")
            which = _prefix(head, resolved)
            if which is None and "." in head.rpartition(":")[2]:
                raise ParamError(
                    f"--sampler-param {item!r}: sampler {head.rpartition('.')[0]!r} is not among those "
                    f"run ({', '.join(names)})"
                )
            if which is not None:
                sampler_params[which].append(f"{head[len(which) + 1 :]}={rest}")
            else:
                takers = [n for n in names if head in parameters(resolved[n].run, BUDGET_ARGS)]
                if not takers:
                    raise ParamError(
                        f"--sampler-param {item!r}: no sampler among {', '.join(names)} has a parameter {head!r}"
                    )
                for n in takers:
                    sampler_params[n].append(item)
        # the sampler's defaults for this target (e.g. the VAE's training strategy) under the given ones
        parsed = {
            n: resolved[n].params_for(target, parse_params(f"sampler {n}", resolved[n].run, items, BUDGET_ARGS))
            for n, items in sampler_params.items()
        }
        for n, params in parsed.items():
            resolved[n].validate(budget.warmup, budget.draws, **params)
    except ValueError as err:  # ParamError and the factories' own checks
        parser.error(str(err))
    return target, budget, seeds, {resolved[n].name: (resolved[n], parsed[n]) for n in names}


def _prefix(head: str, resolved) -> str | None:
    """The sampler (given name or spec, or its resolved name) that `SAMPLER.KEY` names, longest first; None
    when `head` is a bare KEY."""
    for given in sorted(resolved, key=len, reverse=True):
        for name in (given, resolved[given].name):
            if head.startswith(name + ".") and "." not in head[len(name) + 1 :]:
                return given
    return None


def resolve_target(parser, spec: str, param_items=()):
    """The target that `spec` names; bad input exits 2.

    A registered or plugin target (with `--param`s), or a spec module:function naming a factory (with
    `--param`s), a Target or a numpyro model.

    Parameters
    ----------
    parser
        The argparse parser whose `error` reports bad input (exit 2).
    spec
        A registered or plugin target's name, or `module:function` / `path/to/file.py:function`.
    param_items
        The `--param KEY=VALUE` items for the target's factory.

    Returns
    -------
    Target
        The built target (the same object for equal parameters of a registered one).
    """
    from bench.params import parse_params
    from targets.posteriors import load_spec
    from targets.posteriors.user import import_object, is_target_factory
    from targets.registry import TARGETS, built, factory_of, plugins

    if spec in TARGETS or spec in plugins():
        try:
            factory = factory_of(spec)
        except ValueError as err:
            parser.error(str(err))
        params = parse_params(f"target {spec}", factory, param_items)
        try:
            return built(factory, params)  # the same object for equal parameters: compilations shared
        except (MemoryError, OverflowError) as err:  # a size too large to build (ValueError: the caller's)
            parser.error(f"target {spec}: {type(err).__name__}: {err}")
    if ":" not in spec:
        parser.error(
            f"unknown target {spec!r}; valid targets: {', '.join(sorted([*TARGETS, *plugins()]))}; "
            "or module:function or path/to/file.py:function"
        )
    try:
        params = {}
        if param_items:
            _, obj = import_object(spec, "target")
            if not callable(obj) or not is_target_factory(obj):
                parser.error(
                    f"target {spec!r}: a numpyro model, a ready Target or a factory without the `-> Target` "
                    f"annotation takes no --param (bind its data in Python, or annotate the factory)"
                )
            params = parse_params(f"target {spec}", obj, param_items)
        return load_spec(spec, **params)
    except ValueError as err:
        parser.error(str(err))


def cmd_reference(parser, args) -> int:
    import jax

    jax.config.update("jax_enable_x64", True)

    from bench import reference
    from targets.posteriors import reference as ref
    from targets.posteriors.models import derive_draws, model_of, reference_path

    target = resolve_target(parser, args.target)
    if target.constrain is None:
        parser.error(f"reference: {target.name} is not a numpyro posterior (its ground truth is built in)")
    try:
        settings = reference.Settings(
            args.chains,
            args.warmup,
            args.iterations,
            args.thin,
            args.seed,
            args.target_acceptance,
            args.dense_mass,
            args.max_doublings,
        )
    except ValueError as err:
        parser.error(str(err))
    standard = _is_standard(target.name, model_of)
    if args.out is None and not standard:
        parser.error(f"reference: {target.name} is not in the standard set; give --out PATH")
    out = args.out or reference_path(target.name)
    if args.source:
        source = resolve_target(parser, args.source)
        if not (standard and _is_standard(source.name, model_of)) or not reference_path(source.name).exists():
            parser.error(f"reference: --from needs two standard-set posteriors and a stored reference of {args.source}")
        source_x, _, source_prov = ref.read_reference(reference_path(source.name))
        try:
            x = derive_draws(target.name, source, source_x)
        except ValueError as err:
            parser.error(str(err))
        x, provenance = reference.derive(
            target, source, source_prov, x, source_prov["checks"]["divergences"], source_prov["checks"].get("bfmi")
        )
    else:
        x, provenance = reference.compute(target, settings)
    checks = provenance["checks"]
    low, high = checks["thresholds"]["ess_low"], checks["thresholds"]["ess_high"]
    print(
        f"{target.name}: {checks['n_draws']} draws; R-hat max {checks['rhat_max']:.4f} (< 1.01); "
        f"bulk ESS [{checks['ess_bulk_min']:.0f}, {checks['ess_bulk_max']:.0f}], tail ESS "
        f"[{checks['ess_tail_min']:.0f}, {checks['ess_tail_max']:.0f}] (within [{low:.0f}, {high:.0f}]); "
        f"{checks['divergences']} divergences; E-BFMI min "
        f"{'n/a' if checks['bfmi_min'] is None else format(checks['bfmi_min'], '.3f')} (> 0.2)"
    )
    print("posteriordb checks: " + ("passed" if checks["passed"] else "FAILED: " + "; ".join(checks["failures"])))
    if "seconds" in provenance and not args.source:
        print(
            f"NUTS: {provenance['grad_evals']} gradients, {provenance['seconds']} s, "
            f"tree depth limit hit {provenance['max_tree_depth_hit']} times"
        )
    if checks["passed"] or args.out is not None:
        ref.save_reference(out, x, [s.name for s in target.statistics], provenance)
        print(f"written: {out}")
    else:
        print(f"not written (a failing reference is written only to an explicit --out): {out}")
    return 0 if checks["passed"] else 1


def _is_standard(name: str, model_of) -> bool:
    try:
        model_of(name)
        return True
    except KeyError:
        return False


def cmd_run(parser, args) -> int:
    import jax

    from bench import profile

    profile.use(args.profile)
    args.precision = args.precision or profile.precision(args.target)
    jax.config.update("jax_enable_x64", args.precision == "float64")

    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from bench import record as rec, store
    from bench.leaderboard import write_leaderboards
    from bench.run import run_cell
    from bench.table import results_table, select_columns

    target, budget, seeds, samplers = _parse_run(parser, args)
    _use_devices(parser, args.devices)
    try:
        columns = select_columns(target, args.columns)
    except ValueError as err:
        parser.error(str(err))
    try:
        store.check_writable(args.out, [target.name])  # names, runs/<target>, leaderboard/ inside --out
    except store.ResultsError as err:
        parser.error(str(err))

    console, err_console = _console(), Console(stderr=True)
    groups: dict[str, list[dict]] = {}
    total, written, interrupted = len(samplers) * len(seeds), 0, False
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        disable=args.no_progress,
        transient=True,
    ) as progress:
        task = progress.add_task("", total=total)
        current = None  # the cell under way: (label, sampler, params, seed)
        try:
            for name, (sampler, params) in samplers.items():
                label = rec.label(name, params)
                for seed in seeds:
                    current = (label, sampler, params, seed)
                    progress.update(task, description=f"{target.id} · {label} · seed {seed}")
                    try:
                        record, stored = run_cell(target, sampler, params, seed, budget, args.out), True
                    except Exception as err:  # noqa: BLE001 - writing the cell failed: say so, keep the others
                        err_console.print(f"[red]could not write results of {label} seed {seed}: {err}[/red]")
                        record = {"status": "failed", "error": f"results not written: {err}", "seed": seed}
                        stored = False
                    groups.setdefault(label, []).append(record)
                    written += stored
                    current = None
                    if record["status"] != "ok":
                        err_console.print(f"[red]{label} seed {seed} failed: {record['error']}[/red]")
                    progress.advance(task)
        except KeyboardInterrupt:  # Ctrl-C: the cells finished before it are tabled below
            interrupted = True
            record = None if current is None else _stored_record(args.out, target, budget, *current[1:])
            if record is not None and all(r.get("cell_id") != record["cell_id"] for r in groups.get(current[0], [])):
                groups.setdefault(current[0], []).append(record)  # written just before the signal
                written += 1
    if interrupted:
        print(
            f"interrupted: {written} of {total} cells written under {args.out / 'runs' / target.name}; a rerun of "
            f"`run` computes every cell again (`sweep` skips finished ones)",
            file=sys.stderr,
        )

    if groups:
        console.print(results_table(target, groups, columns))
    try:
        path = write_leaderboards(args.out, target.name)
        console.print(f"records: {args.out / 'runs' / target.name}\nleaderboard: {path}")
    except OSError as err:
        err_console.print(f"[red]could not write the leaderboard under {args.out}: {err}[/red]")
        return INTERRUPTED if interrupted else 1
    if interrupted:
        return INTERRUPTED
    return 0 if all(r["status"] == "ok" for rs in groups.values() for r in rs) else 1


def _use_devices(parser, n) -> None:
    """`--devices N` (`baselines.devices.use`); a count outside the visible devices exits 2."""
    from baselines import devices

    try:
        devices.use(n)
    except ValueError as err:
        parser.error(f"--devices: {err}")


def _stored_record(out, target, budget, sampler, params, seed) -> dict | None:
    """The complete record of a cell in `out`, if there is one (`bench.store.read_cell`)."""
    from bench import record as rec, store
    from bench.run import cell_identity

    cell_id = rec.cell_id(cell_identity(target, sampler, params, seed, budget))
    return store.read_cell(out, target.name, sampler.name, cell_id)


def cmd_sweep(parser, args) -> int:
    """Check the whole file first (exit 2 on any problem), then run the cells left, then rebuild the leaderboards.

    Parameters
    ----------
    parser
        The argparse parser whose `error` reports bad input (exit 2).
    args
        The parsed arguments of `python -m bench sweep`.

    Returns
    -------
    int
        The exit status: 0 when every cell finished (or a dry run), 1 when one failed or the leaderboards could
        not be written, 130 when interrupted.
    """
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from bench import store
    from bench.leaderboard import write_all
    from bench.sweep import ConfigError, load, plan, run_sweep
    from bench.sweep.config import peek_precision
    from bench.sweep.runner import check_writable, new_run_id
    from bench.sweep.tasks import set_precision

    overrides = {"out": args.out, "executor": args.executor}
    if args.workers is not None:
        if args.workers < 1:
            parser.error(f"--workers must be >= 1, got {args.workers}")
        overrides["workers"] = args.workers
    from bench import profile

    profile.use(args.profile)
    set_precision(peek_precision(args.config))  # before the checks build any target
    try:
        config = load(args.config, overrides)
    except ConfigError as err:
        parser.error(str(err))
    if not args.dry_run:
        from bench.sweep.executors import check_installed

        check_installed(config.executor)  # before anything is written: a missing extra exits 2
    try:
        check_writable(config)  # the folder, and the target and sweep names as folder and file names
    except store.ResultsError as err:
        parser.error(str(err))

    console, err_console = _console(), Console(stderr=True)
    if args.dry_run:
        groups, before = plan(config, new_run_id(), args.retry_failed)
        console.print(
            f"{config.name}: {config.n_cells} cells ({len(config.targets)} targets x {len(config.samplers)} "
            f"samplers x {len(config.seeds)} seeds), {len(before)} finished before, "
            f"{sum(len(g.seeds) for g in groups)} to run on {config.executor} into {config.out}"
        )
        for g in groups:
            console.print(f"  {g.label}: seeds {', '.join(map(str, g.seeds))}")
        return 0

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        disable=args.no_progress,
        transient=True,
    ) as progress:
        task = progress.add_task("", total=config.n_cells)

        def on_progress(summary, last):
            progress.update(
                task,
                completed=summary.done,
                description=f"done {summary.ok} · failed {summary.failed} · left {summary.left}",
            )
            if last and args.no_progress:
                err_console.print(f"{summary.line()} · {last}", highlight=False)

        try:
            summary = run_sweep(
                config, args.retry_failed, log=lambda m: err_console.print(m, highlight=False), on_progress=on_progress
            )
        except KeyboardInterrupt:
            summary = None
    if summary is None:  # Ctrl-C: every cell written so far is kept; a rerun skips them
        _, finished = plan(config, new_run_id(), args.retry_failed)
        print(
            f"interrupted: {len(finished)} of {config.n_cells} cells finished under {config.out / 'runs'}; run the "
            f"sweep again to resume (finished cells are skipped)",
            file=sys.stderr,
        )
        return INTERRUPTED
    for failure in summary.failures:
        err_console.print(
            f"[red]{failure.label} seed {failure.seed} {failure.status}: {failure.error}[/red]", highlight=False
        )
    console.print(summary.line(), highlight=False)
    try:
        folder = write_all(config.out)
        console.print(f"records: {config.out / 'runs'}\nleaderboards: {folder}")
    except OSError as err:
        err_console.print(f"[red]could not write the leaderboards under {config.out}: {err}[/red]")
        return 1
    return 0 if summary.ok == summary.total else 1


def cmd_leaderboard(parser, args) -> int:
    from bench.leaderboard import write_all

    return _from_results(parser, args, write_all, "leaderboards", "leaderboard")


def cmd_report(parser, args) -> int:
    from bench.report import write_report

    return _from_results(parser, args, write_report, "report", "report")


def _from_results(parser, args, write, what: str, default_folder: str) -> int:
    """`write(results, out)` from the records under `--results`; a missing folder or a failed write exits 2."""
    if not (args.results / "runs").is_dir():
        parser.error(f"no results under {args.results} (expected {args.results / 'runs'})")
    from bench import store

    if not store.has_records(args.results):  # exit 2 as for a missing runs/: nothing to tabulate, write nothing
        parser.error(
            f"no records under {args.results / 'runs'} (no <target>/<sampler>/<cell>/record.json): "
            f"nothing to write; run `python -m bench run` or `sweep` with --out {args.results} first"
        )
    try:
        path = write(args.results, args.out)
    except OSError as err:
        parser.error(f"cannot write the {what} to {args.out or args.results / default_folder}: {err}")
    _console().print(f"{what}: {path}")
    return 0


def cmd_check(parser, args) -> int:
    """`check-sampler` / `check-target`: every check's line, exit 0 when all passed, 1 when one failed.

    Parameters
    ----------
    parser
        The argparse parser whose `error` reports bad input (exit 2).
    args
        The parsed arguments of `python -m bench check-sampler` or `check-target`.

    Returns
    -------
    int
        The exit status: 0 when no check failed (a skipped check is no failure), else 1.
    """
    import jax

    jax.config.update("jax_enable_x64", True)

    from bench import check
    from bench.params import parse_params
    from bench.run import Budget
    from bench.samplers import BUDGET_ARGS, get_sampler

    if args.command == "check-sampler":
        try:
            sampler = get_sampler(args.spec)
            params = parse_params(f"sampler {args.spec}", sampler.run, args.params, BUDGET_ARGS)
            budget = Budget(args.chains, args.draws, args.warmup)
            sampler.validate(budget.warmup, budget.draws, **params)
        except (KeyError, ValueError) as err:
            parser.error(str(err).strip('"'))
        results = check.check_sampler(sampler, params, budget, seed=args.seed, exactness=not args.no_exactness)
        title = f"check-sampler {sampler.name}"
    else:
        if args.draws < 100:
            parser.error(f"--draws must be >= 100, got {args.draws}")
        target = resolve_target(parser, args.spec, args.params)
        results = check.check_target(target, n=args.draws, seed=args.seed)
        title = f"check-target {target.id}"
    print(check.report(title, results))
    return 0 if all(r.ok is not False for r in results) else 1  # a skipped check (ok None) is no failure
