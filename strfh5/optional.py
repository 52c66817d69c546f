"""Optional dependencies: the one place that imports them.

Reading and validating files need only the core dependencies (h5py, numpy,
torch, jsonschema, referencing, tqdm).  Everything else is an *extra* of the
``strfh5`` distribution (see ``pyproject.toml``)::

    convert   librosa, soundfile, scipy, pooch, requests, pyyaml, pandas
              (converters, fetching, spectrogram computation, the simulator)
    plot      matplotlib (strfh5.plotting, strfh5 demo)
    tables    pandas (NeuralDataset.nrn_table / stim_table)
    eeg       mne (the alice-eeg converter)
    all       every extra above

Code that needs one of them calls :func:`require` at the point of use (never
at module level), so ``import strfh5`` and reading stay light, and a missing
package is reported as a :class:`~strfh5.errors.MissingDependencyError` that
names the package, what needed it, and the ``pip install`` line that brings it.

>>> from strfh5.optional import require
>>> signal = require("scipy.signal", extra="convert", purpose="resampling audio")  # doctest: +SKIP
"""

from __future__ import annotations

import importlib
import importlib.util
from types import ModuleType
from typing import Mapping

from .errors import MissingDependencyError

__all__ = ["require", "require_all", "optional_module", "pip_name", "install_hint"]

#: import name -> distribution name on PyPI, where they differ
_PIP_NAMES = {"yaml": "pyyaml", "sklearn": "scikit-learn"}


def pip_name(module: str) -> str:
    """The PyPI name of the distribution that provides ``module`` (``"yaml.x"`` -> ``"pyyaml"``)."""
    top = module.split(".", 1)[0]
    return _PIP_NAMES.get(top, top)


def install_hint(*extras: str) -> str:
    """``pip install 'strfh5[a,b]'`` for the given extras (deduplicated, in order)."""
    names = list(dict.fromkeys(extras))
    return f"pip install 'strfh5[{','.join(names)}]'"


def require(module: str, *, extra: str, purpose: str) -> ModuleType:
    """Import and return ``module``, or raise a message saying how to install it.

    Parameters
    ----------
    module : str
        Dotted module name (``"librosa"``, ``"scipy.signal"``, ``"matplotlib.pyplot"``).
    extra : str
        The strfh5 extra that installs it (``"convert"``, ``"plot"``, ``"tables"``, ``"eeg"``).
    purpose : str
        What needs it, as the start of a sentence (``"computing spectrograms"``).

    Returns
    -------
    module
        The imported module.

    Raises
    ------
    MissingDependencyError
        When the module (or one of its own dependencies) cannot be imported;
        the message names the package, ``purpose`` and ``pip install 'strfh5[extra]'``.
    """
    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise MissingDependencyError(
            f"{purpose} needs the optional package {pip_name(module)!r}, which cannot be imported ({e}); "
            f"install it with: {install_hint(extra)}"
        ) from None


def optional_module(module: str) -> ModuleType | None:
    """``module`` when it can be imported, else None: for speed-ups that nothing needs in order to work."""
    try:
        return importlib.import_module(module)
    except ImportError:
        return None


def require_all(modules: Mapping[str, str], *, purpose: str) -> None:
    """Check that every module of ``{module: extra}`` is installed, reporting all missing ones at once.

    Nothing is imported (``importlib.util.find_spec`` on the top-level
    package), so a command can check its dependencies before it starts work.

    Raises
    ------
    MissingDependencyError
        Naming every missing package, ``purpose`` and one ``pip install`` line
        with all the extras needed.
    """
    missing = [(pip_name(m), extra) for m, extra in modules.items()
               if importlib.util.find_spec(m.split(".", 1)[0]) is None]
    if missing:
        names = ", ".join(repr(p) for p, _ in missing)
        raise MissingDependencyError(
            f"{purpose} needs the optional package(s) {names}, which are not installed; "
            f"install them with: {install_hint(*(x for _, x in missing))}"
        )
