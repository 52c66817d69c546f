"""NEMS epoch tables: :class:`Epochs` and :func:`read_epochs` (``<rec>.<signal>.epoch.csv``).

Rows are ``start, end, name`` in seconds; an occurrence ``[start, end)`` of an
epoch covers the samples ``round(start * fs)`` to ``round(end * fs)`` of a
rasterized signal and the spike times ``start <= t < end`` of a point process.
"""

from __future__ import annotations

import csv
import io
import os
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from strfh5.errors import RawDataError

from .base import NUMBER_RE

__all__ = ["Epochs", "read_epochs"]


@dataclass
class Epochs:
    """An epoch table: ``start``/``end`` times (s) and ``name`` per row, in file order."""

    start: np.ndarray
    end: np.ndarray
    name: list[str]

    def __post_init__(self):
        self.start = np.asarray(self.start, dtype=np.float64).reshape(-1)
        self.end = np.asarray(self.end, dtype=np.float64).reshape(-1)
        self.name = [str(n) for n in self.name]
        if not (self.start.size == self.end.size == len(self.name)):
            raise RawDataError(
                f"epoch table columns differ in length: {self.start.size} starts, {self.end.size} ends, "
                f"{len(self.name)} names"
            )

    def __len__(self) -> int:
        return len(self.name)

    def names(self, prefix: str | None = None) -> list[str]:
        """Distinct epoch names in order of first occurrence (optionally only those starting with ``prefix``)."""
        seen: dict[str, None] = OrderedDict()
        for n in self.name:
            if prefix is None or n.startswith(prefix):
                seen.setdefault(n, None)
        return list(seen)

    def counts(self, prefix: str | None = None) -> "OrderedDict[str, int]":
        """Occurrences of each distinct name (first-occurrence order)."""
        out: OrderedDict[str, int] = OrderedDict()
        for n in self.name:
            if prefix is None or n.startswith(prefix):
                out[n] = out.get(n, 0) + 1
        return out

    def occurrences(self, name: str) -> np.ndarray:
        """``(K, 2)`` array of the ``[start, end]`` of every occurrence of ``name``, sorted by start."""
        idx = [i for i, n in enumerate(self.name) if n == name]
        b = np.stack([self.start[idx], self.end[idx]], axis=1) if idx else np.zeros((0, 2))
        return b[np.argsort(b[:, 0], kind="stable")]

    def within(self, name: str, start: float, end: float, tol: float = 1e-6) -> np.ndarray:
        """Occurrences of ``name`` that lie inside ``[start, end]`` (``tol`` s slack)."""
        b = self.occurrences(name)
        keep = (b[:, 0] >= start - tol) & (b[:, 1] <= end + tol)
        return b[keep]


def read_epochs(source, where: str = "epoch table") -> Epochs:
    """Parse an epoch CSV (path, bytes, text or binary/text file object).

    The header must name ``start``, ``end`` and ``name`` (any order, extra
    columns ignored); names may be CSV-quoted.
    """
    if isinstance(source, (str, os.PathLike)) and Path(source).exists():
        text = Path(source).read_text(encoding="utf-8")
    elif isinstance(source, bytes):
        text = source.decode("utf-8")
    elif hasattr(source, "read"):
        raw = source.read()
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    else:
        text = str(source)
    reader = csv.reader(io.StringIO(text))
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        raise RawDataError(f"{where}: empty epoch table (expected a header 'start,end,name')") from None
    cols = {}
    for key in ("start", "end", "name"):
        if key not in header:
            raise RawDataError(f"{where}: header {header} lacks the column {key!r} (expected start, end, name)")
        cols[key] = header.index(key)
    starts, ends, names = [], [], []
    for lineno, row in enumerate(reader, start=2):
        if not row or all(not c.strip() for c in row):
            continue
        if len(row) < len(header):
            raise RawDataError(f"{where} line {lineno}: {len(row)} fields for the {len(header)} columns {header}")
        if not (NUMBER_RE.match(row[cols["start"]].strip()) and NUMBER_RE.match(row[cols["end"]].strip())):
            raise RawDataError(
                f"{where} line {lineno}: start/end {row[cols['start']]!r}, {row[cols['end']]!r} are not numbers"
            )
        s, e = float(row[cols["start"]]), float(row[cols["end"]])
        if not (np.isfinite(s) and np.isfinite(e)) or e < s:
            raise RawDataError(f"{where} line {lineno}: bad epoch bounds start={s}, end={e}")
        starts.append(s)
        ends.append(e)
        names.append(row[cols["name"]])
    return Epochs(np.array(starts), np.array(ends), names)
