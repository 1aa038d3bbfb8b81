from typing import Literal

import pytest

from bench.params import ParamError, describe, parse_params, with_defaults


def factory(key, *, dim: int = 10, scale: float = 1.0, dense: bool = False, method: Literal["a", "b"] = "a"):
    return None


def test_parses_typed_values():
    assert parse_params("t", factory, ["dim=20", "scale=0.5", "dense=true", "method=b"], skip=("key",)) == {
        "dim": 20,
        "scale": 0.5,
        "dense": True,
        "method": "b",
    }


@pytest.mark.parametrize(
    "item, fragment",
    [
        ("bogus=1", "unknown parameter 'bogus'; valid parameters: dim: int = 10"),
        ("dim=abc", "cannot read 'abc' as int"),
        ("dense=maybe", "cannot read 'maybe' as bool"),
        ("method=c", "'c' is not one of a, b"),
        ("dim", "not of the form name=value"),
        ("scale=inf", "t: scale must be a finite number, got 'inf'"),
        ("scale=-inf", "t: scale must be a finite number, got '-inf'"),
        ("scale=nan", "t: scale must be a finite number, got 'nan'"),
    ],
)
def test_errors_name_the_problem_and_the_choices(item, fragment):
    with pytest.raises(ParamError, match=None) as info:
        parse_params("t", factory, [item], skip=("key",))
    assert fragment in str(info.value)


def test_defaults_fill_the_identity():
    assert with_defaults(factory, {"dim": 3}, skip=("key",)) == {"dim": 3, "scale": 1.0, "dense": False, "method": "a"}
    assert "method: {a,b} = 'a'" in describe(factory, skip=("key",))


def test_a_parameter_given_twice_is_refused_naming_it():
    with pytest.raises(ParamError) as info:
        parse_params("target t", factory, ["dim=3", "scale=2", "dim=4"], skip=("key",))
    assert "target t: parameter 'dim' is given twice (3, then 4)" in str(info.value)
