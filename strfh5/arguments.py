"""Checks and conversions of user arguments shared across the library.

Each helper raises the strfh5 exception class the caller names, with a message
naming the argument and the bad value, so every module refuses bad input the
same way.
"""

from __future__ import annotations

import math
from typing import Type

import numpy as np

from .errors import InvalidDataError, StrfH5Error

__all__ = ["positive_number", "number_argument", "as_numpy"]


def positive_number(value, name: str, error: Type[StrfH5Error] = InvalidDataError, where: str = "") -> float:
    """``value`` as a finite, positive float; else raise ``error`` naming ``name``.

    >>> positive_number("5", "dt_ms")
    5.0
    """
    prefix = f"{where}: " if where else ""
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise error(f"{prefix}{name} must be a positive number, got {value!r}") from None
    if not math.isfinite(x) or x <= 0:
        raise error(f"{prefix}{name} must be a positive number, got {value!r}")
    return x


def number_argument(value, name: str, error: Type[StrfH5Error] = InvalidDataError, where: str = ""):
    """``value`` when it is a finite, positive real number (kept as given: ``5`` stays ``5``).

    Strings, booleans and other types are refused with ``error`` naming
    ``name`` and the type, so ``dt_ms='5'`` fails where it is passed rather
    than deep inside.  numpy scalars and one-element tensors become Python
    numbers.

    >>> number_argument(5, "dt_ms")
    5
    """
    prefix = f"{where}: " if where else ""
    if hasattr(value, "item") and getattr(value, "ndim", None) == 0:
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise error(f"{prefix}{name} must be a positive number (int or float), got {value!r} of type "
                    f"{type(value).__name__}")
    positive_number(value, name, error, where)
    return value


def as_numpy(x) -> np.ndarray:
    """A numpy view of an array-like or a (CPU) torch tensor, without importing torch."""
    if isinstance(x, np.ndarray):
        return x
    if hasattr(x, "detach") and hasattr(x, "numpy"):
        return x.detach().cpu().numpy()
    return np.asarray(x)
