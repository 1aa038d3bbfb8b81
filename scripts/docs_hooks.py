"""MkDocs hook: the reference tables of the documentation, generated from the code at build time.

A page asks for a table with a marker line, `<!-- gen:NAME -->`, replaced by `GENERATORS[NAME]()`:

    cli       every command of `python -m bench` and its options (the argparse parser of `bench.cli`)
    targets   the target registry (`targets.registry.TARGETS`): parameters, defaults, ground truth
    samplers  the sampler registry (`bench.samplers.SAMPLERS`): parameters, defaults, exactness, per-target defaults
    columns   the leaderboards' headline columns (`columns()`)

The tables read the same functions as `python -m bench list`, so the pages cannot drift from the code. The
repository root goes first on `sys.path`: the pages document the checkout being built, whatever is installed.
"""

from __future__ import annotations

import argparse
import inspect
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
MARKER = re.compile(r"^<!-- gen:([a-z_]+) -->$", re.MULTILINE)


def columns():
    """Every column of the results, in the terminal table's order (`bench.columns.COLUMNS`: `key`, `header`,
    `description`, `headline`), the one place the column definitions are read from."""
    from bench.columns import COLUMNS

    return COLUMNS


def _cell(text) -> str:
    """Text safe inside a Markdown table cell."""
    return str(text).replace("|", "\\|").replace("\n", " ")


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _params(fn, skip=()) -> str:
    from bench.params import _type_name, parameters

    found = parameters(fn, skip)
    return "<br>".join(f"`{n}: {_type_name(p.annotation)} = {p.default!r}`" for n, p in found.items()) or "(none)"


def _summary(obj) -> str:
    return (inspect.getdoc(obj) or "").split("\n\n")[0].replace("\n", " ")


def targets_table() -> str:
    """One row per registered target: parameters with defaults, its ground truth (as `bench list`), source."""
    from targets.registry import TARGETS, factory_of

    rows = []
    for name in TARGETS:
        factory = factory_of(name)
        t = factory()
        truth = [f"{len(t.statistics)} statistics" + ("" if t.truth else " (mean, sd)")]
        truth += [t.truth] if t.truth else []
        truth += ["exact draws"] if t.sample is not None else []
        truth += [f"log Z = {t.log_Z:g}"] if t.log_Z is not None else []
        truth += [f"{t.modes.count} modes"] if t.modes is not None else []
        truth += [f"{len(t.wells.coords)} double wells"] if t.wells is not None else []
        rows.append([f"`{name}`", _summary(factory), _params(factory), ", ".join(truth), f"`{factory.__module__}`"])
    return _table(["name", "what", "parameters (defaults)", "ground truth (default parameters)", "module"], rows)


def samplers_table() -> str:
    """One row per registered sampler: description, parameters with defaults, exactness, per-target defaults."""
    from bench.samplers import BUDGET_ARGS, SAMPLERS

    rows = []
    for name, s in SAMPLERS.items():
        per_target = (
            "<br>".join(
                f"{t}: " + ", ".join(f"`{k}={v!r}`" for k, v in d.items()) for t, d in s.target_defaults.items()
            )
            or "–"
        )
        rows.append(
            [
                f"`{name}`",
                s.description,
                _params(s.run, BUDGET_ARGS),
                "yes" if s.exact else "**no**",
                per_target,
                f"`{s.run.__module__}`",
            ]
        )
    return _table(["name", "what", "parameters (defaults)", "exact", "per-target defaults", "module"], rows)


def columns_table() -> str:
    """Every column: header, record key, in the headline table / the leaderboards, meaning."""
    from bench.leaderboard import COLUMNS as LEADERBOARD

    in_leaderboard = {c.key for c in LEADERBOARD}
    return _table(
        ["column", "record key", "headline", "leaderboards", "meaning"],
        [
            [
                c.header,
                f"`{c.key}`",
                "yes" if c.headline else "",
                "yes" if c.key in in_leaderboard else "",
                c.description,
            ]
            for c in columns()
        ],
    )


def _option(action: argparse.Action) -> list[str]:
    flags = ", ".join(f"`{f}`" for f in action.option_strings) or f"`{action.metavar or action.dest}`"
    if action.option_strings and action.nargs != 0 and not action.choices:
        flags += f" {action.metavar or action.dest.upper()}"
    default = action.default
    shown = "–" if default in (None, argparse.SUPPRESS, False) or action.nargs == 0 else f"`{default}`"
    if isinstance(default, list) and not default:
        shown = "– (repeatable)"
    if action.choices and not isinstance(action, argparse._SubParsersAction):
        flags += " {" + ",".join(map(str, action.choices)) + "}"
    return [flags, shown, action.help or ""]


def cli_reference() -> str:
    """Every subcommand of `python -m bench` with its options, defaults and help, from `bench.cli.build_parser`."""
    from bench.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    helps = {a.dest: a.help for a in sub._choices_actions}
    out = []
    for name, command in sub.choices.items():
        usage = " ".join(command.format_usage().split()).removeprefix("usage: ")
        rows = [_option(a) for a in command._actions if not isinstance(a, argparse._HelpAction)]
        summary = helps.get(name) or ""
        out += [f"### `{name}`", "", summary[:1].upper() + summary[1:] + ".", "", f"```\n{usage}\n```", ""]
        out += [_table(["argument", "default", "meaning"], rows), ""] if rows else []
    return "\n".join(out)


GENERATORS = {"cli": cli_reference, "targets": targets_table, "samplers": samplers_table, "columns": columns_table}


def on_config(config, **kwargs):
    if str(ROOT) not in sys.path[:1]:
        sys.path.insert(0, str(ROOT))
    return config


def on_page_markdown(markdown: str, page, config, files, **kwargs) -> str:
    def generate(match: re.Match) -> str:
        name = match.group(1)
        if name not in GENERATORS:
            raise KeyError(f"{page.file.src_path}: unknown generated table {name!r}; valid: {', '.join(GENERATORS)}")
        return GENERATORS[name]()

    return MARKER.sub(generate, markdown)
