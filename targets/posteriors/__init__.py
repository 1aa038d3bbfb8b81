"""Bayesian posteriors written as numpyro models, as targets: the adapter, the standard set, references.

    from targets.posteriors import from_numpyro, register_model
    target = from_numpyro(model, "mymodel", model_kwargs={"y": y})      # a Target, ready for bench.run_cell
    register_model("mymodel", model, model_kwargs={"y": y})            # then make_target("mymodel")

From the command line, `--target module:function` or `--target path/to/file.py:function` loads a model
(a numpyro model callable with no required argument: bind data by closure or default arguments).
"""

from targets.posteriors.adapter import ModelError, from_numpyro
from targets.posteriors.models import cancer, eight_schools, eight_schools_nc, longley
from targets.posteriors.user import load_spec, register_model

__all__ = [
    "ModelError",
    "cancer",
    "eight_schools",
    "eight_schools_nc",
    "from_numpyro",
    "load_spec",
    "longley",
    "register_model",
]
