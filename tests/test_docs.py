"""The README and the documentation: short README, nothing cited outside the repository, generated tables that
cover the registries (scripts/docs_hooks.py; the strict build itself is `make docs`)."""

import importlib.util
import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
MD_NAME = re.compile(r"[\w.-]+\.md\b")  # a Markdown file's name
URL = re.compile(r"\w+://\S+")  # a public source, cited by its address
LINK = re.compile(r"\]\(([^)#\s]+)")  # a Markdown link's target


def _hooks():
    spec = importlib.util.spec_from_file_location("docs_hooks", ROOT / "scripts" / "docs_hooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_readme_is_short():
    assert len((ROOT / "README.md").read_text().splitlines()) <= 150


@pytest.mark.parametrize("folder", ["docs", "bench", "targets", "vaegibbs", "baselines", "scripts", "configs", "tests"])
def test_nothing_cites_a_file_outside_the_repository(folder):
    """Every Markdown file named exists in the repository, and every relative link of a page resolves inside it
    to something that exists: a clone has nothing else."""
    files = [p for p in (ROOT / folder).rglob("*") if p.suffix in (".md", ".py", ".toml", ".sh") and p.is_file()]
    files += [ROOT / "README.md", ROOT / "mkdocs.yml"] if folder == "docs" else []
    assert files
    ours = {p.name for p in ROOT.rglob("*.md") if ".venv" not in p.parts and "site" not in p.parts}
    found = [
        f"{p.relative_to(ROOT)}: {name}"
        for p in files
        for name in MD_NAME.findall(URL.sub("", p.read_text(errors="replace")))
        if name not in ours
    ]
    for page in [p for p in files if p.suffix == ".md"]:
        for target in LINK.findall(page.read_text()):
            if "://" in target or target.startswith("mailto:"):
                continue
            path = (page.parent / target).resolve()
            if not path.is_relative_to(ROOT) or not path.exists():
                found.append(f"{page.relative_to(ROOT)}: link {target}")
    assert not found


def test_every_marker_names_a_generator():
    hooks = _hooks()
    markers = {m for page in (ROOT / "docs").rglob("*.md") for m in hooks.MARKER.findall(page.read_text())}
    assert markers == set(hooks.GENERATORS)


def test_sampler_table_has_every_registered_sampler_and_parameter():
    from bench.params import parameters
    from bench.samplers import BUDGET_ARGS, SAMPLERS

    table = _hooks().samplers_table()
    rows = {re.match(r"\| `([^`]+)`", line).group(1): line for line in table.splitlines()[2:]}
    assert list(rows) == list(SAMPLERS)
    for name, sampler in SAMPLERS.items():
        for param, p in parameters(sampler.run, BUDGET_ARGS).items():
            assert f"`{param}: " in rows[name] and f"= {p.default!r}`" in rows[name]


def test_cli_reference_has_every_command_and_option():
    from bench.cli import build_parser

    text = _hooks().cli_reference()
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    for name, command in sub.choices.items():
        assert f"### `{name}`" in text
        for action in command._actions:
            for flag in [] if action.dest == "help" else action.option_strings:
                assert f"`{flag}`" in text


def test_the_columns_page_lists_every_column_from_its_definition():
    from bench.columns import COLUMNS
    from bench.leaderboard import COLUMNS as LEADERBOARD

    text = _hooks().columns_table()
    assert all(f"`{c.key}`" in text and c.description.replace("|", "\\|") in text for c in COLUMNS)
    assert {c.key for c in LEADERBOARD} <= {c.key for c in COLUMNS}
