"""A one-screen summary of a strfh5 file: :func:`info` and ``strfh5 info``.

:func:`info` reads only what the summary needs — root attributes, the
metadata tables, ``/stimuli/n_bins`` and ``/repeats`` — and what the reader's
structural checks need (each stimulus dataset's header, ``/counts``), never the
spike times, binned values or stimulus arrays, so it runs in about the same time
on a 20 GB file as on a 2 MB one.  A file a load refuses, it refuses with the
same error.  :func:`format_info` renders the result for people; ``strfh5 info
--json`` prints the dict itself.
"""

from __future__ import annotations

import os
from collections import Counter
from typing import Any

import numpy as np

from . import layout as L
from .h5io import FileHandle, check_counts, check_response_descriptors, check_stimuli, read_sources, read_tables, response_dtype, waveform_summary
from .h5io.remote import file_size
from .terminal import escape_text

__all__ = ["info", "format_info"]

#: metadata keys whose value counts the summary reports
STIM_COUNT_KEYS = ("type", "subset")
NEURON_COUNT_KEYS = ("area",)


def _range(a: np.ndarray) -> dict | None:
    if a.size == 0:
        return None
    return {"min": a.min().item(), "max": a.max().item()}


def _counts(records: list[dict], key: str) -> dict[str, int] | None:
    vals = [r[key] for r in records if key in r and isinstance(r[key], (str, int, bool)) and r[key] is not None]
    if not vals:
        return None
    c = Counter(str(v) for v in vals)
    return dict(sorted(c.items(), key=lambda kv: (-kv[1], kv[0])))


def _sources(f, path: str, stim_ids: list[str], allow_external: bool) -> dict[str, Any]:
    """The sources of a concatenated file (SPEC §9) and the stimulus ids several share."""
    recs = read_sources(f, path, allow_external=allow_external)
    out: dict[str, Any] = {"sources": [], "shared_stim_ids": []}
    seen: dict[str, set[int]] = {}
    for r in recs:
        ok = os.path.isfile(r.resolved)
        out["sources"].append({
            "path": r.path,
            "uuid": r.uuid,
            "exists": ok,
            "size_bytes": os.path.getsize(r.resolved) if ok else None,
            "n_stimuli": r.n_stims,
            "n_neurons": r.n_neurons,
        })
        for row in r.stim_rows:
            seen.setdefault(stim_ids[int(row)], set()).add(r.index)
    # a stimulus id in two sources is shared, whether its rows were merged or kept apart
    out["shared_stim_ids"] = sorted(sid for sid, where in seen.items() if len(where) > 1)
    return out


def info(path, *, allow_external: bool = False) -> dict[str, Any]:
    """Summarise a strfh5 file.

    Parameters
    ----------
    path : str or os.PathLike
        A strfh5 file (a concatenated file's sources are checked first).
    allow_external : bool
        Allow a concatenated file whose sources lie outside its folder.

    Returns
    -------
    dict
        JSON-serialisable summary: ``S``, ``N``, ``dt_ms``, ``modality``,
        ``stim_kind``, ``stim_dims``, ``encoding``, ``response_kind``,
        ``stored_dtype``, ``coverage`` (``valid``, ``total``, ``percent``),
        ``repeats`` and ``n_bins`` / ``duration_ms`` ranges, counts of
        stimulus types/subsets and neuron areas, ``size_bytes``, ``uuid``,
        ``format_version``, ``created_by``, ``created_at``, ``schemas``,
        ``title``, ``source``, ``transform``, ``waveforms`` (spectrogram and
        video files: ``kept`` = how many stimuli keep their source waveform,
        their ``dtypes`` and ``stored_bytes``), and for concatenated files
        ``sources`` (path, UUID, whether it exists, its size and block sizes)
        and ``shared_stim_ids`` (stimulus ids present in more than one source).

    Examples
    --------
    >>> d = strfh5.info("demo.strf.h5")
    >>> d["S"], d["N"], d["coverage"]["percent"]
    (12, 16, 88.02)
    """
    path = os.fspath(path)
    handle = FileHandle(path, allow_external=allow_external, scan_heaps=True)
    try:
        f = handle.file
        t = read_tables(f, path)
        fi = t["info"]
        stored = response_dtype(handle)
        rep, nb = t["repeats"], t["n_bins"]
        # what a load would refuse, info refuses: every stimulus checked as the reader checks it (no values
        # read), /counts summing exactly and every response descriptor matching its heap object (SPEC 1.1 §12.1)
        check_stimuli(handle, fi, nb)
        check_counts(handle, fi, rep)
        check_response_descriptors(handle, fi)
        S, N = rep.shape
        valid = int((rep > 0).sum())
        total = S * N
        recorded = rep[rep > 0]
        d: dict[str, Any] = {
            "path": path,
            "size_bytes": file_size(path),
            "format_version": f"{fi.version[0]}.{fi.version[1]}",
            "uuid": fi.uuid,
            "created_by": fi.created_by,
            "created_at": fi.created_at,
            "title": fi.metadata.get("title"),
            "source": fi.metadata.get("source"),
            "S": S,
            "N": N,
            "dt_ms": fi.dt_ms,
            "modality": fi.modality,
            "stim_kind": fi.stim_kind,
            "stim_dims": list(fi.stim_dims),
            "encoding": fi.encoding,
            "response_kind": fi.response_kind,
            "stored_dtype": str(np.dtype(stored)) if stored is not None else None,
            "coverage": {
                "valid": valid,
                "total": total,
                "percent": round(100.0 * valid / total, 2) if total else 0.0,
            },
            "repeats": _range(recorded),
            "n_bins": _range(nb),
            "duration_ms": None if nb.size == 0 else {"min": float(nb.min() * fi.dt_ms), "max": float(nb.max() * fi.dt_ms)},
            "total_duration_s": float(nb.sum() * fi.dt_ms / 1000.0),
            "stimuli_without_data": int((~(rep > 0).any(axis=1)).sum()) if N else S,
            "neurons_without_data": int((~(rep > 0).any(axis=0)).sum()) if S else N,
            "stim_counts": {k: v for k in STIM_COUNT_KEYS if (v := _counts(t["stim_meta"], k))},
            "neuron_counts": {k: v for k in NEURON_COUNT_KEYS if (v := _counts(t["nrn_meta"], k))},
            "schemas": dict(fi.schemas),
            "transform": fi.transform,
            "concatenated": fi.concatenated,
            "waveforms": None if fi.stim_kind == L.STIM_WAVEFORM else waveform_summary(handle, S),
        }
        if fi.concatenated:
            d.update(_sources(f, path, t["stim_ids"], allow_external))
    finally:
        handle.close()
    return d


def _size(n: int | None) -> str:
    if n is None:
        return "?"
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000.0
    return f"{n} B"  # pragma: no cover


def _rng(r: dict | None, fmt: str = "{}") -> str:
    if r is None:
        return "-"
    lo, hi = fmt.format(r["min"]), fmt.format(r["max"])
    return lo if lo == hi else f"{lo}–{hi}"


def _dims(d: dict) -> str:
    dims = d["stim_dims"]
    if d["stim_kind"] == L.STIM_SPECTROGRAM:
        return f"(C={dims[0]}, F={dims[1]}, T)"
    if d["stim_kind"] == L.STIM_VIDEO:
        return f"(C={dims[0]}, H={dims[1]}, W={dims[2]}, T)"
    return f"(C={dims[0]}, T_audio)"


def _waveforms(wf: dict, S: int, stim_kind: str) -> str:
    if not wf["kept"]:
        return ("none stored (spectrograms cannot be recomputed at load; re-convert with --keep-waveform)"
                if stim_kind == L.STIM_SPECTROGRAM else "none stored")
    what = f"stored for {wf['kept']} / {S} stimuli ({', '.join(wf['dtypes'])}, {_size(wf['stored_bytes'])})"
    if stim_kind == L.STIM_SPECTROGRAM and wf["kept"] == S:
        what += "; spectrograms can be recomputed at load (load(..., n_bands=...))"
    return what


def format_info(d: dict) -> str:
    """Human-readable rendering of :func:`info`'s dict (what ``strfh5 info`` prints).

    Text from the file (title, ids, metadata values, paths) is escaped: a
    control character shows as ``\\x1b``, never reaches the terminal raw.
    """
    lines = [f"{d['path']}  ({_size(d['size_bytes'])}, strfh5 format {d['format_version']})"]
    if d.get("title"):
        lines.append(f"  title       : {d['title']}")
    lines.append(f"  source      : {d.get('source') or '-'}")
    lines.append(f"  stimuli     : S = {d['S']}   {d['modality']} {d['stim_kind']} {_dims(d)}")
    lines.append(f"  neurons     : N = {d['N']}")
    lines.append(
        f"  responses   : {d['encoding']} ({d['response_kind']}, {d['stored_dtype']}) at dt = {d['dt_ms']:g} ms"
    )
    cov = d["coverage"]
    lines.append(f"  coverage    : {cov['valid']:,} / {cov['total']:,} pairs recorded ({cov['percent']:.1f}%)")
    if d["stimuli_without_data"] or d["neurons_without_data"]:
        ns, nn = d["stimuli_without_data"], d["neurons_without_data"]
        lines.append(
            f"                {ns} {'stimulus' if ns == 1 else 'stimuli'} and {nn} {'neuron' if nn == 1 else 'neurons'}"
            " without data"
        )
    lines.append(f"  repeats     : {_rng(d['repeats'])} per recorded pair")
    lines.append(
        f"  durations   : {_rng(d['n_bins'])} bins = {_rng(d['duration_ms'], '{:g}')} ms"
        f" (total {d['total_duration_s']:.1f} s)"
    )
    for k, v in d.get("stim_counts", {}).items():
        lines.append(f"  stim {k:<7}: " + ", ".join(f"{a}: {b}" for a, b in v.items()))
    for k, v in d.get("neuron_counts", {}).items():
        lines.append(f"  neuron {k:<5}: " + ", ".join(f"{a}: {b}" for a, b in v.items()))
    tr = d.get("transform")
    if tr:
        parts = [str(tr.get("kind", "?"))]
        if "n_bands" in tr:
            parts.append(f"{tr['n_bands']} bands")
        if "f_min" in tr and "f_max" in tr:
            parts.append(f"{tr['f_min']:g}–{tr['f_max']:g} Hz")
        if "window_ms" in tr:
            parts.append(f"window {tr['window_ms']:g} ms")
        if "hop_ms" in tr:
            parts.append(f"hop {tr['hop_ms']:g} ms")
        if "compression" in tr:
            parts.append(f"compression {tr['compression']}")
        lines.append("  transform   : " + ", ".join(parts))
    wf = d.get("waveforms")
    if wf is not None:
        lines.append("  waveforms   : " + _waveforms(wf, d["S"], d["stim_kind"]))
    lines.append(f"  uuid        : {d['uuid']}")
    lines.append(f"  created     : {d['created_at']} by {d['created_by']}")
    sch = d["schemas"]
    lines.append(f"  schemas     : file {sch.get('file')}")
    lines.append(f"                stimulus {sch.get('stimulus')}")
    lines.append(f"                neuron {sch.get('neuron')}")
    if d.get("concatenated"):
        srcs = d.get("sources", [])
        lines.append(f"  concatenated: {len(srcs)} sources (virtual datasets)")
        for i, s in enumerate(srcs):
            extra = []
            if "n_stimuli" in s:
                extra.append(f"S = {s['n_stimuli']}")
            if "n_neurons" in s:
                extra.append(f"N = {s['n_neurons']}")
            state = _size(s["size_bytes"]) if s["exists"] else "MISSING"
            lines.append(f"    [{i}] {s['path']}  uuid {s['uuid']}  {state}" + (f"  ({', '.join(extra)})" if extra else ""))
        shared = d.get("shared_stim_ids", [])
        if shared:
            more = f" (+{len(shared) - 5} more)" if len(shared) > 5 else ""
            lines.append(f"  shared stims: {len(shared)} stimulus ids in several sources: " + ", ".join(shared[:5]) + more)
    # titles, ids, paths and metadata values come from the file: never print them raw (escape sequences)
    return "\n".join(escape_text(line, keep_newlines=False) for line in lines)
