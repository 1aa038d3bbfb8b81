"""Optional dependencies: `require` imports a feature's modules and names the extra when one is missing.

A feature that needs an extra (`pip install "vaegibbs-bench[EXTRA]"`) imports its modules through `require`,
which names the extra when one is missing. The CLI turns `MissingExtra` into exit 2.

Extras (pyproject.toml): `dask` (the dask executor of sweeps), `slurm` (the slurm executor), `report`
(`python -m bench report`), `cuda12`/`cuda13` (JAX's CUDA wheels), `test`, `docs`, `dev`.
"""

from __future__ import annotations

import importlib
from types import ModuleType

PACKAGE = "vaegibbs-bench"


class MissingExtra(ImportError):
    """A module of an optional dependency is not installed; the message names the extra that installs it."""


def require(module: str, extra: str, feature: str) -> ModuleType:
    """Import `module` for `feature`, or raise MissingExtra naming `extra`.

    Parameters
    ----------
    module
        The module to import, e.g. "matplotlib.pyplot".
    extra
        The extra of this package that installs it, e.g. "report".
    feature
        What needs it, for the message, e.g. "the report".

    Returns
    -------
    types.ModuleType
        The imported module.

    Raises
    ------
    MissingExtra
        When the module (or one it imports) is not installed.
    """
    try:
        return importlib.import_module(module)
    except ImportError as err:
        missing = (err.name or module).split(".")[0]
        raise MissingExtra(
            f'{feature} needs {missing}, which is not installed: pip install "{PACKAGE}[{extra}]"'
        ) from err
