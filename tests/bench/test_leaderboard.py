import numpy as np
import pytest

from bench.leaderboard import aggregate


def _row(sampler, seed, ess, status="ok"):
    return {"cell_id": f"{sampler}{seed}", "target": "funnel", "target_id": "funnel(dim=10)", "target.dim": 10,
            "sampler": sampler, "sampler_id": sampler, "chains": 4, "draws": 100, "warmup": 100,
            "precision": "float64", "device": "cpu", "seed": seed, "status": status,
            "ess_bulk_min": ess if status == "ok" else None}


def test_mean_and_sd_over_seeds_equal_hand_computed():
    rows = [_row("nuts", 0, 10.0), _row("nuts", 1, 20.0), _row("nuts", 2, 60.0), _row("hmc", 0, 5.0),
            _row("hmc", 1, None, status="failed")]
    table = aggregate(rows).set_index("sampler")
    assert table.loc["nuts", "ess_bulk_min.mean"] == pytest.approx(30.0)
    assert table.loc["nuts", "ess_bulk_min.sd"] == pytest.approx(np.std([10, 20, 60], ddof=1))
    assert table.loc["nuts", "n_seeds"] == 3 and table.loc["nuts", "seeds"] == "0 1 2"
    assert table.loc["hmc", "n_seeds"] == 1 and table.loc["hmc", "n_failed"] == 1
    assert np.isnan(table.loc["hmc", "ess_bulk_min.sd"])
    assert table.loc["hmc", "target.dim"] == 10
