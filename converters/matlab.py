"""Small helpers for reading MATLAB v5 files of public releases.

They wrap :func:`scipy.io.loadmat` (``squeeze_me=True,
struct_as_record=False``: a 1x1 struct becomes an object with attributes, a
1xN struct array a 1-D object array) and turn every surprise — a missing
variable or field, a v7.3 (HDF5) file, a wrong type — into a
:class:`~strfh5.errors.RawDataError` naming the file and what was expected.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from strfh5.errors import MissingRawFileError, RawDataError
from strfh5.optional import require

__all__ = ["load_mat", "field", "has_field", "as_float_vector", "as_int_vector", "as_scalar", "as_str", "struct_list"]


def load_mat(path: os.PathLike | str, variables: Sequence[str] | None = None) -> dict[str, Any]:
    """Read ``variables`` (all when None) from a MATLAB v5 file.

    Only the named variables are decoded (others are skipped without being
    parsed), so a large unused matrix costs disk reads, not memory.
    """
    scipy_io = require("scipy.io", extra="convert", purpose="reading MATLAB files")
    p = Path(path)
    if not p.exists():
        raise MissingRawFileError(f"{p}: MATLAB file is missing from the raw release folder")
    try:
        with open(p, "rb") as fh:
            head = fh.read(128)
        if b"MATLAB 7.3" in head or head[:8] == b"\x89HDF\r\n\x1a\n":
            raise RawDataError(f"{p}: MATLAB v7.3 (HDF5) file; this converter expects MATLAB v5 files")
        out = scipy_io.loadmat(
            str(p), squeeze_me=True, struct_as_record=False, chars_as_strings=True,
            variable_names=list(variables) if variables is not None else None,
        )
    except RawDataError:
        raise
    except NotImplementedError as e:
        raise RawDataError(f"{p}: unsupported MATLAB file ({e}); expected MATLAB v5") from None
    except (ValueError, TypeError, OSError, EOFError) as e:
        raise RawDataError(f"{p}: cannot read as a MATLAB v5 file ({e})") from None
    if variables is not None:
        missing = [v for v in variables if v not in out]
        if missing:
            raise RawDataError(f"{p}: variable(s) {', '.join(map(repr, missing))} not found in the MATLAB file")
    return out


def has_field(obj: Any, name: str) -> bool:
    """Whether a loaded MATLAB struct has field ``name``."""
    return name in getattr(obj, "_fieldnames", ()) or (not hasattr(obj, "_fieldnames") and hasattr(obj, name))


def field(obj: Any, name: str, where: str) -> Any:
    """Field ``name`` of a loaded MATLAB struct, or :class:`RawDataError`."""
    if isinstance(obj, np.ndarray) and obj.dtype == object and obj.size == 1:
        obj = obj.item()
    names = getattr(obj, "_fieldnames", None)
    if names is None:
        raise RawDataError(f"{where}: expected a MATLAB struct with field {name!r}, got {type(obj).__name__}")
    if name not in names:
        raise RawDataError(f"{where}: MATLAB struct has no field {name!r} (fields: {', '.join(names)})")
    return getattr(obj, name)


def struct_list(obj: Any, where: str) -> list:
    """A MATLAB struct array as a list of structs (a single struct → one item)."""
    if isinstance(obj, np.ndarray):
        if obj.dtype != object:
            raise RawDataError(f"{where}: expected a MATLAB struct array, got a {obj.dtype} array")
        items = list(obj.reshape(-1))
    else:
        items = [obj]
    for i, it in enumerate(items):
        if getattr(it, "_fieldnames", None) is None:
            raise RawDataError(f"{where}[{i}]: expected a MATLAB struct, got {type(it).__name__}")
    return items


def as_float_vector(v: Any, where: str, allow_nan: bool = False) -> np.ndarray:
    """A numeric scalar/vector as a 1-D float64 array (empty MATLAB [] → size 0)."""
    a = np.asarray(v)
    if a.dtype == object or a.dtype.kind not in "biuf":
        raise RawDataError(f"{where}: expected numbers, got {a.dtype} values")
    a = a.astype(np.float64).reshape(-1)
    if not allow_nan and a.size and not np.all(np.isfinite(a)):
        raise RawDataError(f"{where}: contains NaN or Inf")
    return a


def as_int_vector(v: Any, where: str) -> np.ndarray:
    """A numeric vector of whole numbers as int64 (NaN is refused)."""
    a = as_float_vector(v, where)
    if a.size and not np.array_equal(a, np.round(a)):
        raise RawDataError(f"{where}: expected whole numbers")
    return a.astype(np.int64)


def as_scalar(v: Any, where: str) -> float:
    """A numeric MATLAB scalar as a float."""
    a = as_float_vector(v, where, allow_nan=True)
    if a.size != 1:
        raise RawDataError(f"{where}: expected one number, got {a.size}")
    return float(a[0])


def as_str(v: Any, where: str) -> str:
    """A MATLAB char array as a str (trailing blanks kept, as released)."""
    if isinstance(v, str):
        return v
    a = np.asarray(v)
    if a.dtype.kind == "U":
        if a.size == 0:
            return ""
        if a.size == 1:
            return str(a.reshape(-1)[0])
        return "".join(a.reshape(-1).tolist())
    raise RawDataError(f"{where}: expected a character string, got {type(v).__name__}")

