"""A sweep's TOML file, read and checked in full before anything runs.

    name = "funnel-study"               # optional; recorded in every cell as `sweep.name`
    out = "results"                     # results folder (relative: to the working directory)
    precision = "float64"               # or "float32"; default float64 (bench.profile: float32 on an accelerator
                                        # when every target is one measured to hold in it)
    seeds = [0, 1, 2]                   # or an integer n: seeds 0 .. n-1

    [budget]                            # the same for every cell
    chains = 4
    draws = 1000
    warmup = 1000

    [executor]                          # optional; kind = "local" (default), "dask" or "slurm"
    kind = "local"
    workers = 1

    [[targets]]
    name = "funnel"
    params = { dim = [10, 20] }         # a list sweeps a parameter: the grid is the product of the lists

    [[samplers]]
    name = "nuts"
    params = { max_num_doublings = 8 }

A name is a registered one, an installed plugin's, or a spec `module:function` / `path/to/file.py:function`
(relative paths: to the working directory) as on the command line: a factory returning a Target (with its
params) or a numpyro model for a target, a run function with the sampler contract for a sampler. A spec's
cells are stored under its resolved name `module.function`.

The grid is targets x samplers x seeds. Parameter names and values go through the same checks as
`python -m bench run` (`bench.params`), the targets' and samplers' own checks included, so an
unknown name or a bad value is reported with the valid choices before any cell runs.
"""

from __future__ import annotations

import dataclasses
import itertools
import pathlib
import tomllib
from collections.abc import Mapping
from typing import Any

from bench import profile
from bench.params import ParamError, parse_params
from bench.resources import check_fits
from bench.run import Budget

EXECUTORS = ("local", "dask", "slurm")
# executor options: name -> (type, default); the types are checked, unknown names are errors
EXECUTOR_OPTIONS: dict[str, dict[str, tuple[type | tuple[type, ...], Any]]] = {
    "local": {"workers": (int, 1)},
    "dask": {
        "address": (str, ""),
        "n_workers": (int, 1),
        "threads_per_worker": (int, 1),
        "processes": (bool, True),
        "retries": (int, 0),
    },
    "slurm": {
        "cluster": (str, "slurm"),
        "folder": (str, ""),
        "partition": (str, ""),
        "time": (int, 60),
        "gpus": (int, 0),
        "cpus_per_task": (int, 1),
        "mem_gb": ((int, float), 0),
        "array_parallelism": (int, 64),
        "account": (str, ""),
        "qos": (str, ""),
        "constraint": (str, ""),
        "setup": (list, []),
        "additional": (dict, {}),
    },
}
SUBMITIT_CLUSTERS = ("slurm", "local", "debug")
TOP_KEYS = {"name", "out", "precision", "seeds", "budget", "executor", "targets", "samplers"}


class ConfigError(ValueError):
    """The sweep file is unreadable or names something that does not exist.

    The message says which and lists the valid choices.
    """


@dataclasses.dataclass(frozen=True)
class Entry:
    """One target or sampler configuration of the grid: its registered name and the parameters given.

    The parameters are typed; defaults are filled in when the cell's identity is formed.
    """

    name: str
    params: tuple[tuple[str, Any], ...] = ()

    @property
    def kwargs(self) -> dict[str, Any]:
        return dict(self.params)


@dataclasses.dataclass(frozen=True)
class SweepConfig:
    name: str
    path: pathlib.Path | None
    out: pathlib.Path
    precision: str
    seeds: tuple[int, ...]
    budget: Budget
    targets: tuple[Entry, ...]
    samplers: tuple[Entry, ...]
    executor: str = "local"
    executor_options: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def n_cells(self) -> int:
        return len(self.targets) * len(self.samplers) * len(self.seeds)


def load(path: pathlib.Path | str, overrides: Mapping[str, Any] | None = None) -> SweepConfig:
    """Read and check the sweep file `path`.

    Parameters
    ----------
    path
        The sweep's TOML file.
    overrides
        Values from the command line that replace top-level keys: `out`, `executor` (kind) and executor
        options such as `workers`.

    Returns
    -------
    SweepConfig
        The checked sweep.

    Raises
    ------
    ConfigError
        When the file cannot be read, is not TOML, or has a problem (`parse`).
    """
    path = pathlib.Path(path)
    try:
        with open(path, "rb") as f:
            raw = tomllib.load(f)
    except OSError as err:
        raise ConfigError(f"cannot read sweep file {path}: {err.strerror or err}") from None
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{path}: not valid TOML: {err}") from None
    except UnicodeDecodeError as err:
        raise ConfigError(f"{path}: not valid TOML: not UTF-8 text ({err.reason} at byte {err.start})") from None
    return parse(raw, path, overrides)


def peek_precision(path: pathlib.Path | str) -> str:
    """The file's `precision` if it is a valid one, else the default.

    JAX's precision must be set before the checks of `load` build any target (`load` reports a bad value).

    Parameters
    ----------
    path
        The sweep's TOML file.

    Returns
    -------
    str
        "float64" or "float32": the file's, else the device profile's for its targets (float64 for an
        unreadable file).
    """
    try:
        with open(path, "rb") as f:
            raw = tomllib.load(f)
    except (OSError, ValueError):  # unreadable, not UTF-8, not TOML
        return "float64"
    value = raw.get("precision", profile.precision(_target_names(raw)))
    return value if value in ("float64", "float32") else "float64"


def _target_names(raw: Mapping[str, Any]) -> list[str]:
    """The names of the file's targets (those it names readably), for the profile's default precision."""
    entries = raw.get("targets", [])
    return (
        [e["name"] for e in entries if isinstance(e, dict) and isinstance(e.get("name"), str)]
        if isinstance(entries, list)
        else []
    )


def parse(
    raw: Mapping[str, Any], path: pathlib.Path | None = None, overrides: Mapping[str, Any] | None = None
) -> SweepConfig:
    """Check a parsed TOML document; raise ConfigError naming the first problem.

    Parameters
    ----------
    raw
        The parsed document.
    path
        The file it came from (its stem is the default name), or None.
    overrides
        Values that replace top-level keys (`out`, `executor`, executor options).

    Returns
    -------
    SweepConfig
        The checked sweep.

    Raises
    ------
    ConfigError
        The first problem.
    """
    from bench.samplers import BUDGET_ARGS

    where = str(path) if path else "sweep"
    overrides = dict(overrides or {})
    unknown = sorted(set(raw) - TOP_KEYS)
    if unknown:
        raise ConfigError(
            f"{where}: unknown key {', '.join(map(repr, unknown))}; valid keys: {', '.join(sorted(TOP_KEYS))}"
        )

    name = _typed(where, "name", raw.get("name", path.stem if path else "sweep"), str)
    out = overrides.pop("out", None) or _typed(where, "out", raw.get("out", "results"), str)
    if not str(out).strip():
        raise ConfigError(
            f"{where}: out must name a results folder, got {str(out)!r} (the current folder is "
            f'not a results folder; give e.g. out = "results")'
        )
    out = pathlib.Path(out)
    precision = _typed(where, "precision", raw.get("precision", profile.precision(_target_names(raw))), str)
    if precision not in ("float64", "float32"):
        raise ConfigError(f"{where}: precision {precision!r} is not one of float64, float32")
    seeds = _seeds(where, raw.get("seeds", [0]))

    budget_raw = _typed(where, "[budget]", raw.get("budget", {}), dict)
    bad = sorted(set(budget_raw) - {"chains", "draws", "warmup"})
    if bad:
        raise ConfigError(
            f"{where}: [budget] has unknown key {', '.join(map(repr, bad))}; valid keys: chains, draws, warmup"
        )
    budget_raw = {k: _typed(where, f"budget.{k}", v, int) for k, v in budget_raw.items()}
    try:
        budget = Budget(**budget_raw)
    except ValueError as err:
        raise ConfigError(f"{where}: [budget]: {err}") from None

    numbered_targets = _entries(where, raw, "targets", _Targets(), ())
    numbered_samplers = _entries(where, raw, "samplers", _Samplers(), BUDGET_ARGS)
    built = {}
    for number, entry in numbered_targets:
        try:
            built[entry] = _make_target(entry)
        except (ValueError, TypeError, MemoryError, OverflowError) as err:  # e.g. a size too large to build
            raise ConfigError(
                f"{where}: [[targets]] #{number}: target {_label(entry)}: "
                f"{'' if isinstance(err, ValueError) else type(err).__name__ + ': '}{err}"
            ) from None
    numbered_targets = [
        (number, _as_resolved("target", entry, built[entry].name)) for number, entry in numbered_targets
    ]
    dims = {entry: built[old].dim for (_, entry), old in zip(numbered_targets, built)}
    resolved_samplers = []
    for number, entry in numbered_samplers:
        sampler = _get_sampler(entry.name)
        for target in built.values():  # with the sampler's defaults for each target (e.g. the VAE's training)
            try:
                sampler.validate(budget.warmup, budget.draws, **sampler.params_for(target, entry.kwargs))
            except ValueError as err:
                raise ConfigError(
                    f"{where}: [[samplers]] #{number}: sampler {_label(entry)} on target {target.name}: {err}"
                ) from None
        resolved_samplers.append((number, _as_resolved("sampler", entry, sampler.name)))
    numbered_samplers = resolved_samplers
    targets, samplers = tuple(e for _, e in numbered_targets), tuple(e for _, e in numbered_samplers)

    executor, options = _executor(where, _typed(where, "[executor]", raw.get("executor", {}), dict), overrides)
    if executor == "local":  # the cells run on this machine (other executors: on their workers)
        for number, entry in numbered_targets:
            try:
                check_fits(budget.chains, budget.draws, budget.warmup, dims[entry], precision)
            except ValueError as err:
                raise ConfigError(f"{where}: [budget] on [[targets]] #{number} ({_label(entry)}): {err}") from None
    return SweepConfig(
        name=name,
        path=path,
        out=out,
        precision=precision,
        seeds=seeds,
        budget=budget,
        targets=targets,
        samplers=samplers,
        executor=executor,
        executor_options=options,
    )


class _Targets(Mapping):
    """Target names for `_entries`: registered, plugins' and specs; a name's factory (for its params)."""

    def __contains__(self, name):
        from targets.posteriors.user import is_spec
        from targets.registry import TARGETS, plugins

        return name in TARGETS or name in plugins() or is_spec(name)

    def __getitem__(self, name):
        from targets.posteriors.user import import_object, is_spec, is_target_factory
        from targets.registry import factory_of

        if not is_spec(name) or name in self._names():
            return factory_of(name)
        try:
            _, obj = import_object(name, "target")
        except ValueError as err:
            raise ParamError(str(err)) from None
        return obj if callable(obj) and is_target_factory(obj) else (lambda: None)

    def _names(self):
        from targets.registry import TARGETS, plugins

        return [*TARGETS, *plugins()]

    def __iter__(self):
        return iter(self._names())

    def __len__(self):
        return len(self._names())


class _Samplers(_Targets):
    """Sampler names for `_entries`: registered, plugins' and specs; a name's run function."""

    def __contains__(self, name):
        from bench.samplers import SAMPLERS, plugins
        from targets.posteriors.user import is_spec

        return name in SAMPLERS or name in plugins() or is_spec(name)

    def __getitem__(self, name):
        try:
            return _get_sampler(name).run
        except ValueError as err:
            raise ParamError(str(err)) from None

    def _names(self):
        from bench.samplers import SAMPLERS, plugins

        return [*SAMPLERS, *plugins()]


def _get_sampler(name: str):
    from bench.samplers import get_sampler

    return get_sampler(name)


def _make_target(entry: Entry):
    from targets.registry import make_target

    return make_target(entry.name, **entry.kwargs)


def _as_resolved(kind: str, entry: Entry, name: str) -> Entry:
    """A spec's entry under its resolved name (`module.function`, its cells' folder), the spec remembered for
    worker processes (`targets.posteriors.user.remember`); other entries unchanged."""
    from targets.posteriors.user import is_spec, remember

    if not is_spec(entry.name):
        return entry
    remember(kind, name, entry.name)
    return dataclasses.replace(entry, name=name)


def _typed(where: str, key: str, value, kind):
    ok = isinstance(value, kind) and not (kind in (int, (int, float)) and isinstance(value, bool))
    if not ok:
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        names = {"dict": "a table", "list": "an array"}.get(names, names)
        raise ConfigError(f"{where}: {key} must be {names}, got {value!r}")
    return value


def _seeds(where: str, value) -> tuple[int, ...]:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
        return tuple(range(value))
    if (
        isinstance(value, list)
        and value
        and all(isinstance(s, int) and not isinstance(s, bool) for s in value)
        and min(value) >= 0
        and max(value) < 2**32
        and len(set(value)) == len(value)
    ):
        return tuple(value)
    raise ConfigError(
        f"{where}: seeds must be a positive integer n (seeds 0..n-1) or a non-empty array of "
        f"distinct integers in [0, 2^32), got {value!r}"
    )


def _entries(where: str, raw, key: str, registry: Mapping[str, Any], skip) -> list[tuple[int, Entry]]:
    """The entries of `[[key]]`, each with the number of the table it comes from (a list expands to several)."""
    items = raw.get(key)
    if not isinstance(items, list) or not items or not all(isinstance(i, dict) for i in items):
        raise ConfigError(
            f"{where}: needs at least one [[{key}]] table with a name; valid names: {', '.join(sorted(registry))}"
        )
    out: list[tuple[int, Entry]] = []
    for number, item in enumerate(items, 1):
        what = f"[[{key}]] #{number}"
        extra = sorted(set(item) - {"name", "params"})
        if extra:
            raise ConfigError(
                f"{where}: {what} has unknown key {', '.join(map(repr, extra))}; valid keys: name, params"
            )
        name = item.get("name")
        if not isinstance(name, str):
            raise ConfigError(
                f"{where}: {what}: name must be a string, one of {', '.join(sorted(registry))}; got {name!r}"
            )
        if name not in registry:
            raise ConfigError(
                f"{where}: {what}: unknown {key[:-1]} {name!r}; valid {key}: {', '.join(sorted(registry))}"
            )
        params = _typed(where, f"{what} ({name}) params", item.get("params", {}), dict)
        grid = {k: (v if isinstance(v, list) else [v]) for k, v in params.items()}
        for k, values in grid.items():
            if not values:
                raise ConfigError(f"{where}: {what} ({name}): parameter {k!r} has an empty list of values")
            for v in values:
                if not isinstance(v, (str, int, float, bool)):
                    raise ConfigError(
                        f"{where}: {what} ({name}): parameter {k} = {v!r} is not a string, number or boolean"
                    )
        for combo in itertools.product(*grid.values()):
            strings = [f"{k}={_toml_str(v)}" for k, v in zip(grid, combo)]
            try:
                typed = parse_params(f"{key[:-1]} {name}", registry[name], strings, skip)
            except ParamError as err:
                raise ConfigError(f"{where}: {what}: {err}") from None
            entry = Entry(name, tuple(sorted(typed.items())))
            if any(entry == e for _, e in out):
                raise ConfigError(f"{where}: {what}: {_label(entry)} appears twice in [[{key}]]")
            out.append((number, entry))
    return out


def _toml_str(v) -> str:
    return ("true" if v else "false") if isinstance(v, bool) else str(v)


def _label(entry: Entry) -> str:
    from bench.record import label

    return label(entry.name, entry.kwargs)


def _executor(where: str, section: dict, overrides: dict) -> tuple[str, dict]:
    section = dict(section)
    kind = overrides.pop("executor", None) or section.pop("kind", "local")
    section.pop("kind", None)
    if kind not in EXECUTORS:
        raise ConfigError(f"{where}: executor kind {kind!r} is not one of {', '.join(EXECUTORS)}")
    valid = EXECUTOR_OPTIONS[kind]
    section |= {k: v for k, v in overrides.items() if v is not None}
    unknown = sorted(set(section) - set(valid))
    if unknown:
        raise ConfigError(
            f"{where}: [executor] kind = {kind!r} has no option {', '.join(map(repr, unknown))}; "
            f"valid options: {', '.join(valid)}"
        )
    options = {k: default for k, (_, default) in valid.items()}
    for k, v in section.items():
        options[k] = _typed(where, f"executor.{k}", v, valid[k][0])
    for k in ("workers", "n_workers", "threads_per_worker", "cpus_per_task", "array_parallelism", "time"):
        if k in options and options[k] < 1:
            raise ConfigError(f"{where}: executor.{k} must be >= 1, got {options[k]}")
    for k in ("gpus", "retries", "mem_gb"):
        if k in options and options[k] < 0:
            raise ConfigError(f"{where}: executor.{k} must be >= 0, got {options[k]}")
    if kind == "slurm" and options["cluster"] not in SUBMITIT_CLUSTERS:
        raise ConfigError(
            f"{where}: executor.cluster {options['cluster']!r} is not one of "
            f"{', '.join(SUBMITIT_CLUSTERS)} (submitit's executors)"
        )
    if kind == "slurm" and not all(isinstance(s, str) for s in options["setup"]):
        raise ConfigError(f"{where}: executor.setup must be an array of shell lines")
    return kind, options
