"""bench.columns defines each column once: the table's and the leaderboards' columns are its columns."""

import io

from rich.console import Console

from bench import columns, leaderboard, table
from targets import make_target


def test_the_renderings_read_their_columns_from_bench_columns():
    assert all(c in columns.COLUMNS for c in leaderboard.COLUMNS)
    assert table.HEADLINE == tuple(c.name for c in columns.COLUMNS if c.headline)
    target = make_target("gaussian", dim=2)
    record = {"status": "ok", "ess_bulk_min_per_s": 1.0, "time_run": 1.0, "time_compile": 1.0, "log_Z_hat": 0.0}
    full = table.results_table(target, {"nuts": [record]})
    headers = [str(c.header).split(" (")[0] for c in full.columns]
    known = {c.header.format(h=target.headline_statistic.name) for c in columns.COLUMNS}
    assert set(headers) <= known | {h.split(" (")[0] for h in known}
    assert "KL bound" in headers and "modes" not in headers  # weights in the records; the target has no modes
    Console(file=io.StringIO(), width=400).print(full)


def test_describe_lists_every_column_with_its_meaning():
    rows = columns.describe()
    assert [r[1] for r in rows] == [c.key for c in columns.COLUMNS] and all(r[2] for r in rows)
