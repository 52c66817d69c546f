"""Decoding stored JSON text with bounded work: strict UTF-8, strict JSON, bounded nesting.

A metadata record comes from a file written by someone else (SPEC.md §8).
Python's :func:`json.loads` recurses once per nested array or object, so a
record such as ``[[[[...]]]]`` nested a hundred thousand times raises
:class:`RecursionError` (or exhausts the C stack) instead of a format error.
:func:`loads` measures the nesting first, with one linear regular-expression
pass that never recurses, and refuses anything deeper than
:data:`MAX_DEPTH` with a :class:`~strfh5.errors.CorruptDataError` naming the
record.  Readers and the validator both decode records through this module,
so they agree on what a valid record is.
"""

from __future__ import annotations

import json
import re
from typing import Any

import numpy as np

from .errors import CorruptDataError

__all__ = ["MAX_DEPTH", "decode_text", "nesting_depth", "loads"]

#: deepest nesting of arrays/objects a stored record may have (real metadata needs a handful)
MAX_DEPTH = 128

# a JSON string (skipped whole, escapes included) or one bracket
_TOKENS = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.S)


def decode_text(raw, where: str) -> str:
    """A stored string (bytes, ``str`` or a 0-d array of either) as ``str``, strict UTF-8.

    Parameters
    ----------
    raw : bytes, str, numpy.bytes_ or 0-d numpy.ndarray
        The value h5py returned for a string dataset entry or attribute.
    where : str
        Names the object in the error message (``file:/neurons/metadata[3]``).

    Raises
    ------
    CorruptDataError
        The bytes are not valid UTF-8 (SPEC.md §1.3 stores every string as
        UTF-8, whatever charset the HDF5 type declares).
    """
    if isinstance(raw, np.ndarray) and raw.shape == ():
        raw = raw[()]
    if isinstance(raw, (bytes, np.bytes_)):
        try:
            return bytes(raw).decode("utf-8")
        except UnicodeDecodeError as e:
            raise CorruptDataError(f"{where}: stored string is not valid UTF-8 ({e.reason} at byte "
                                   f"{e.start}: {bytes(raw)[e.start:e.start + 8]!r})") from None
    if isinstance(raw, str):
        return raw
    raise CorruptDataError(f"{where}: expected a string, found {type(raw).__name__}")


def nesting_depth(text: str) -> int:
    """The deepest nesting of ``[``/``{`` in ``text``, ignoring brackets inside JSON strings.

    Linear in ``len(text)`` and non-recursive; unbalanced text gives the depth
    reached (the JSON parser reports the imbalance afterwards).
    """
    depth = deepest = 0
    for m in _TOKENS.finditer(text):
        tok = m.group()
        if tok in "[{":
            depth += 1
            if depth > deepest:
                deepest = depth
        elif tok in "]}":
            depth -= 1
    return deepest


def _pairs(items):
    d = {}
    for k, v in items:
        if k in d:
            raise ValueError(f"duplicate key {k!r}")
        d[k] = v
    return d


def _no_constant(name):
    raise ValueError(f"{name} is not valid JSON (strict JSON has no NaN/Infinity)")


def loads(raw, where: str, *, max_depth: int = MAX_DEPTH, strict: bool = False) -> Any:
    """Parse one stored JSON record with bounded work.

    Parameters
    ----------
    raw : bytes, str or 0-d numpy.ndarray
        The stored text (decoded as strict UTF-8 by :func:`decode_text`).
    where : str
        Names the record in error messages (``file:/stimuli/metadata[2]``).
    max_depth : int
        Deepest nesting of arrays and objects accepted (default :data:`MAX_DEPTH`).
    strict : bool
        Also refuse what RFC 8259 does not allow but Python accepts: ``NaN``,
        ``Infinity`` and duplicate keys (what the validator requires).

    Returns
    -------
    object
        The decoded value.

    Raises
    ------
    CorruptDataError
        Not UTF-8, nested deeper than ``max_depth``, or not valid JSON; the
        message names ``where`` and the problem.  Never RecursionError.
    """
    text = decode_text(raw, where)
    # fewer brackets than max_depth cannot nest deeper: skip the scan (the common case, at C speed)
    depth = nesting_depth(text) if text.count("[") + text.count("{") > max_depth else 0
    if depth > max_depth:
        raise CorruptDataError(f"{where}: stored JSON is nested {depth} levels deep; at most {max_depth} "
                               "levels are read (strfh5.jsonsafe.MAX_DEPTH)")
    kw = dict(parse_constant=_no_constant, object_pairs_hook=_pairs) if strict else {}
    try:
        return json.loads(text, **kw)
    except (ValueError, RecursionError) as e:
        raise CorruptDataError(f"{where}: stored metadata is not valid JSON ({e})") from None
