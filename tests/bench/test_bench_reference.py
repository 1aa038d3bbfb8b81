"""`python -m bench reference` on a tiny budget: the checks run, a failing reference is reported (exit 1) and
written only to an explicit --out; bad input exits 2."""

import numpy as np
import pytest

from bench.cli import main
from targets.posteriors import reference as ref


def test_tiny_reference_fails_the_checks_and_says_so(tmp_path, capsys):
    out = tmp_path / "ref.npz"
    code = main(
        [
            "reference",
            "--target",
            "eight_schools_nc",
            "--chains",
            "2",
            "--warmup",
            "100",
            "--iterations",
            "200",
            "--thin",
            "2",
            "--out",
            str(out),
        ]
    )
    text = capsys.readouterr().out
    assert code == 1 and "posteriordb checks: FAILED: 200 draws, not 10000" in text and "written:" in text
    x, names, provenance = ref.read_reference(out)
    assert x.shape == (2, 100, 10) and names[:2] == ["mu", "tau"]
    assert provenance["chains"] == 2 and provenance["thin"] == 2 and provenance["seed"] == 0
    assert not provenance["checks"]["passed"] and len(provenance["checks"]["bfmi"]) == 2


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["--target", "funnel"], "funnel is not a numpyro posterior"),
        (["--target", "nope"], "unknown target 'nope'"),
        (["--target", "eight_schools", "--thin", "0"], "need chains >= 2, thin >= 1"),
        (["--target", "eight_schools", "--from", "funnel"], "--from needs two standard-set posteriors"),
    ],
)
def test_bad_reference_input_exits_2(args, fragment, capsys, tmp_path):
    with pytest.raises(SystemExit) as info:
        main(["reference", *args, "--out", str(tmp_path / "r.npz")])
    assert info.value.code == 2 and fragment in " ".join(capsys.readouterr().err.split())


def test_derived_reference_reproduces_the_shipped_one(tmp_path, capsys):
    out = tmp_path / "es.npz"
    assert main(["reference", "--target", "eight_schools", "--from", "eight_schools_nc", "--out", str(out)]) == 0
    from targets.posteriors.models import reference_path

    x, _, provenance = ref.read_reference(out)
    shipped, _, _ = ref.read_reference(reference_path("eight_schools"))
    np.testing.assert_allclose(x, shipped, rtol=1e-12, atol=1e-12)
    assert provenance["derived_from"] == "eight_schools_nc" and provenance["checks"]["passed"]
