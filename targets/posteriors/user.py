"""A user's own model as a target: from Python (`register_model`) or from a `module:function` spec."""
from __future__ import annotations

import importlib
import importlib.util
import pathlib
import sys
from typing import Any, Callable, Mapping

from targets.base import Target
from targets.posteriors.adapter import ModelError, from_numpyro


def register_model(name: str, model: Callable, *, model_args: tuple = (),
                   model_kwargs: Mapping[str, Any] | None = None, reference: str | pathlib.Path | None = None,
                   headline: str | None = None) -> None:
    """Add a numpyro model to the target registry under `name` (then `make_target(name)`, and the CLI's
    `--target name` in the same process). `reference`: an `.npz` from `python -m bench reference`."""
    from targets.registry import TARGETS

    def factory() -> Target:
        return from_numpyro(model, name, model_args=model_args, model_kwargs=model_kwargs, reference=reference,
                            headline=headline)

    factory.__doc__ = f"numpyro model {getattr(model, '__name__', name)} (registered from Python)"
    TARGETS[name] = factory


def load_spec(spec: str, reference: str | pathlib.Path | None = None) -> Target:
    """`module:function` or `path/to/file.py:function` -> a Target named `module.function`.

    The attribute is a numpyro model with no required argument, or a ready Target. Raises ModelError
    (a ValueError) naming what is wrong: the spec's form, a module or file that cannot be imported, a
    missing attribute, or a callable that is not a numpyro model."""
    where, sep, attr = spec.rpartition(":")
    if not sep or not where or not attr.isidentifier():
        raise ModelError(f"target {spec!r}: expected a registered name, module:function or path/to/file.py:function")
    if where.endswith(".py") or "/" in where or "\\" in where:
        path = pathlib.Path(where)
        if not path.is_file():
            raise ModelError(f"target {spec!r}: no such file {str(path)!r}")
        module_name = path.stem
        try:
            module_spec = importlib.util.spec_from_file_location(f"_bench_user_{module_name}", path)
            module = importlib.util.module_from_spec(module_spec)
            module_spec.loader.exec_module(module)
        except Exception as err:  # noqa: BLE001 - the user's file failed: say how
            raise ModelError(f"target {spec!r}: importing {str(path)!r} failed: {type(err).__name__}: {err}") from err
    else:
        module_name = where
        if "" not in sys.path and str(pathlib.Path.cwd()) not in sys.path:
            sys.path.insert(0, "")  # `python -m bench` from the user's folder finds their module there
        try:
            module = importlib.import_module(where)
        except ModuleNotFoundError as err:
            raise ModelError(f"target {spec!r}: no module named {err.name!r}") from err
        except Exception as err:  # noqa: BLE001
            raise ModelError(f"target {spec!r}: importing module {where!r} failed: {type(err).__name__}: {err}") from err
    if not hasattr(module, attr):
        public = sorted(n for n, v in vars(module).items() if callable(v) and not n.startswith("_"))
        raise ModelError(f"target {spec!r}: module {module_name!r} has no attribute {attr!r}; "
                         f"its callables: {', '.join(public) or '(none)'}")
    obj = getattr(module, attr)
    if isinstance(obj, Target):
        return obj
    name = f"{module_name}.{attr}"
    return from_numpyro(obj, name, reference=reference)
