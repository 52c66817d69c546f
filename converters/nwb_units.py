"""Responses of an NWB file, cut by presentation: the units table (events) or a strfh5 export's binned series.

Used by :mod:`strfh5.converters.nwb`.  :func:`read_responses` returns the
neuron ids and metadata and a ``row(s, n_bins)`` function giving the writer's
row of stimulus ``s``: per neuron ``None`` (not observed during any
presentation of ``s``) or one entry per observed presentation (spike times in
ms from its ``start_time``, or an ``(R, T)`` block for binned exports).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from strfh5 import layout as L
from strfh5 import nwb_layout as NL
from strfh5.errors import RawDataError

__all__ = ["read_responses", "unit_filter_mask"]

#: units table columns that are not neuron metadata
_NOT_META = {"spike_times", "obs_intervals", "electrodes", "waveforms", "waveform_mean", "waveform_sd",
             "electrode_group", NL.UNIT_TIMES_MS, NL.UNIT_METADATA}
_EPS = 1e-9


def _as_str(v) -> str:
    return v.decode("utf-8") if isinstance(v, bytes) else str(v)


def unit_filter_mask(table, filters: list[str] | None, path: Path) -> np.ndarray:
    """Rows of ``table`` whose ``COLUMN`` equals ``VALUE`` for every ``COLUMN=VALUE`` of ``filters``."""
    keep = np.ones(len(table), dtype=bool)
    for f in filters or []:
        col, sep, value = f.partition("=")
        col = col.strip()
        if not sep or not col:
            raise RawDataError(f"unit filter {f!r} is not COLUMN=VALUE")
        if col not in table.colnames:
            raise RawDataError(f"{path}: unit filter names column {col!r}, which table {table.name!r} lacks "
                               f"(columns: {list(table.colnames)})")
        values = table[col][:]
        keep &= np.array([_as_str(v) == value.strip() for v in values], dtype=bool)
    if not keep.any():
        raise RawDataError(f"{path}: no unit of {table.name!r} passes the filter {filters}")
    return keep


def _json_value(v) -> Any:
    if isinstance(v, (bytes, np.bytes_)):
        return v.decode("utf-8")
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v if isinstance(v, (str, int, float, bool)) or v is None else None


def _electrode_meta(units, i: int) -> dict:
    try:
        rows = units["electrodes"][i]
    except Exception:  # noqa: BLE001 - a table without usable electrode references: no electrode metadata
        return {}
    out = {}
    for key, name in (("location", "location"), ("group_name", "electrode_group"), ("x", "x"), ("y", "y"),
                      ("z", "z")):
        if hasattr(rows, "columns") and key in rows.columns and len(rows):
            v = _json_value(rows[key].iloc[0])
            if v is not None:
                out[name] = v
    if "location" in out:
        out.setdefault("area", out["location"])
    return out


def _unit_meta(table, i: int, nid: str) -> dict:
    if NL.UNIT_METADATA in table.colnames:
        return json.loads(_as_str(table[NL.UNIT_METADATA][i]))
    meta: dict[str, Any] = {"cell_id": nid, "nwb_unit_id": int(table.id[i])}
    for col in table.colnames:
        if col in _NOT_META or col == NL.UNIT_NAME:
            continue
        v = _json_value(table[col][i])
        if v is not None:
            meta[col] = v
    if "electrodes" in table.colnames:
        meta.update({k: v for k, v in _electrode_meta(table, i).items() if k not in meta})
    return meta


def _ids(table, rows: np.ndarray) -> list[str]:
    if NL.UNIT_NAME in table.colnames:
        return [_as_str(table[NL.UNIT_NAME][int(i)]) for i in rows]
    return [str(int(table.id[int(i)])) for i in rows]


def _presentations_of(pres: dict) -> list[list[int]]:
    where: dict[str, list[int]] = {sid: [] for sid in pres["ids"]}
    for p, sid in enumerate(pres["stim"]):
        where[sid].append(p)
    return [where[sid] for sid in pres["ids"]]


# ------------------------------------------------------------------- events
class _Unit:
    """One unit's spike times (s, ascending), exact relative times (ms) if recorded, observation intervals."""

    def __init__(self, units, i: int, path: Path):
        t = np.asarray(units["spike_times"][i], dtype=np.float64)
        rel = np.asarray(units[NL.UNIT_TIMES_MS][i], dtype=np.float64) if NL.UNIT_TIMES_MS in units.colnames else None
        if rel is not None and rel.shape != t.shape:
            raise RawDataError(f"{path}: unit {i}: {NL.UNIT_TIMES_MS} has {rel.size} values for {t.size} spike times")
        order = np.argsort(t, kind="stable")
        self.t = t[order]
        self.rel = None if rel is None else rel[order]
        self.obs = (np.asarray(units["obs_intervals"][i], dtype=np.float64).reshape(-1, 2)
                    if "obs_intervals" in units.colnames else None)

    def observed(self, start: float, stop: float) -> bool:
        if self.obs is None:
            return True
        return bool(np.any((self.obs[:, 0] <= start + _EPS) & (self.obs[:, 1] >= stop - _EPS)))

    def trial(self, w0: float, w1: float, onset: float) -> np.ndarray:
        lo, hi = np.searchsorted(self.t, w0, "left"), np.searchsorted(self.t, w1, "right")
        return self.rel[lo:hi].copy() if self.rel is not None else (self.t[lo:hi] - onset) * 1000.0


def _events(nwbfile, pres: dict, notes: dict | None, opts: dict, path: Path) -> dict:
    units = nwbfile.units
    if "spike_times" not in units.colnames:
        raise RawDataError(f"{path}: the units table has no spike_times column (columns: {list(units.colnames)})")
    rows = np.flatnonzero(unit_filter_mask(units, opts["unit_filter"], path))
    ids = _ids(units, rows)
    meta = [_unit_meta(units, int(i), nid) for i, nid in zip(rows, ids)]
    cells = [_Unit(units, int(i), path) for i in rows]
    per_stim = _presentations_of(pres)

    def row(s: int, n_bins: int) -> list:
        out = []
        for u in cells:
            trials = [u.trial(pres["w0"][p], pres["w1"][p], pres["start"][p]) for p in per_stim[s]
                      if u.observed(pres["start"][p], pres["stop"][p])]
            out.append(trials or None)
        return out

    time_dtype = (notes or {}).get("time_dtype") or "float64"
    return {"encoding": L.ENCODING_EVENTS, "response_kind": L.RESPONSE_SPIKE_TIMES, "time_dtype": time_dtype,
            "ids": ids, "meta": meta, "row": row}


# ------------------------------------------------------------------- binned
def _binned(nwbfile, pres: dict, notes: dict, opts: dict, path: Path) -> dict:
    mod = nwbfile.processing[NL.PROCESSING]
    for name in (NL.BINNED_SERIES, NL.NEURONS_TABLE):
        if name not in mod.data_interfaces:
            raise RawDataError(f"{path}: /processing/{NL.PROCESSING} lacks {name!r} (a strfh5 binned export has both)")
    series, table = mod[NL.BINNED_SERIES], mod[NL.NEURONS_TABLE]
    rows = np.flatnonzero(unit_filter_mask(table, opts["unit_filter"], path))
    ids = _ids(table, rows)
    meta = [_unit_meta(table, int(i), nid) for i, nid in zip(rows, ids)]
    sorted_of = {int(orig): k for k, orig in enumerate(pres["order"])}
    seen = [{sorted_of[int(p)] for p in table[NL.COL_PRESENTATIONS][int(i)]} for i in rows]
    stamps = np.asarray(series.timestamps[:], dtype=np.float64)
    half = float(notes["dt_ms"]) / 2000.0
    per_stim = _presentations_of(pres)

    def row(s: int, n_bins: int) -> list:
        blocks = {}
        for p in per_stim[s]:
            i0 = int(np.searchsorted(stamps, pres["start"][p] - half))
            blocks[p] = np.asarray(series.data[i0:i0 + n_bins])[:, rows]
            if blocks[p].shape[0] != n_bins:
                raise RawDataError(f"{path}: {NL.BINNED_SERIES} ends before presentation {p} has its {n_bins} bins")
        out = []
        for k in range(len(rows)):
            reps = [blocks[p][:, k] for p in per_stim[s] if p in seen[k]]
            out.append(np.stack(reps) if reps else None)
        return out

    return {"encoding": L.ENCODING_BINNED, "response_kind": notes["response_kind"], "time_dtype": "float64",
            "ids": ids, "meta": meta, "row": row}


def read_responses(nwbfile, pres: dict, notes: dict | None, opts: dict, path: Path) -> dict:
    """Neuron ids, metadata and the row function of the file's responses (see the module docstring)."""
    if nwbfile.units is not None:
        return _events(nwbfile, pres, notes, opts, path)
    if notes is not None and notes.get("encoding") == L.ENCODING_BINNED and NL.PROCESSING in nwbfile.processing:
        return _binned(nwbfile, pres, notes, opts, path)
    raise RawDataError(f"{path}: no units table (/units with spike_times) to take responses from")

