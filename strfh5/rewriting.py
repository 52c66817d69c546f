"""Rewrite a file at other settings or with a subset of it: :func:`rewrite` and ``strfh5 rewrite``.

(The module is ``rewriting``, not ``rewrite``, so that ``strfh5.rewrite`` stays
the function whatever was imported first.)

A shared ``.strf.h5`` file is read through the same path as a lazy
:func:`strfh5.load` — at another bin width, as binned counts, with
spectrograms recomputed from the kept waveforms — and written row by row
through :class:`strfh5.StreamWriter`, so memory stays bounded by one stimulus
row.  The new file's metadata records where it comes from
(``provenance.rewrites``: the source file's UUID and name and the
parameters).

What can be rewritten
---------------------
* **Events** files: at any bin width ``dt_ms`` (spike times are kept; the
  stimuli are recomputed or pooled to the new bins), or as **binned** counts
  at ``dt_ms`` (``encoding='binned'``).
* **Binned** files: at an integer multiple of their ``dt_ms`` (counts
  summed, continuous signals averaged); never back to events.
* **Spectrograms**: recomputed from the kept waveforms with the file's recipe
  whenever the bin width or a spectrogram parameter changes; without kept
  waveforms they are pooled (``k`` frames averaged, recorded in the transform's
  ``params``) and other parameters are refused.
* A **subset**: stimuli and neurons chosen by id or by metadata
  (``"stim:type=song"``, ``"neuron:area=MLd,L2a"``, ``"neuron:id=c1,c2"``).
"""

from __future__ import annotations

import copy
import os
from dataclasses import replace
from datetime import datetime, timezone

import numpy as np
from tqdm.auto import tqdm

from . import layout as L
from .binning import ReadGrid, spectrogram_record
from .contents import Contents, FileContents
from .errors import BinningError, InvalidDataError, SelectionError
from .reader import dataset_from_contents
from .rows import read_stim
from .version import __version__
from .writer import StreamWriter

__all__ = ["rewrite", "parse_select", "select_indices"]


def parse_select(text: str) -> tuple[str, str, list[str]]:
    """``"stim:key=a,b"`` / ``"neuron:key=a"`` -> ``(table, key, values)``; ``key`` ``id`` means the ids.

    Raises
    ------
    SelectionError
        Not of the form ``stim|neuron:key=value[,value...]``.
    """
    table, _, rest = str(text).partition(":")
    key, eq, values = rest.partition("=")
    if table not in ("stim", "neuron") or not key or not eq or not values:
        raise SelectionError(f"select {text!r} must read 'stim:KEY=V1[,V2...]' or 'neuron:KEY=V1[,V2...]' "
                             "(KEY 'id' selects by id, any other KEY by metadata value)")
    return table, key, [v for v in values.split(",") if v != ""]


def select_indices(ids: list[str], metas: list[dict], key: str, values: list[str], what: str) -> list[int]:
    """Positions whose id (``key == 'id'``) or metadata ``key`` is one of ``values`` (compared as text)."""
    if key == "id":
        missing = [v for v in values if v not in set(ids)]
        if missing:
            raise SelectionError(f"{what} id(s) {missing[:5]} are not in the file ({len(ids)} {what}s)")
        wanted = set(values)
        return [i for i, x in enumerate(ids) if x in wanted]
    if not any(key in m for m in metas):
        keys = sorted({k for m in metas for k in m})
        raise SelectionError(f"no {what} has the metadata key {key!r}; keys present: {keys[:20]}")
    wanted = set(values)
    return [i for i, m in enumerate(metas) if key in m and _text(m[key]) in wanted]


def _text(v) -> str:
    if isinstance(v, bool):
        return str(v).lower()
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def _selection(c: Contents, stims, neurons, select) -> tuple[list[int], list[int]]:
    """Stimulus and neuron positions kept (all criteria must hold)."""
    keep = {"stim": set(range(c.S)), "neuron": set(range(c.N))}
    criteria = [parse_select(t) for t in ([select] if isinstance(select, str) else list(select or ()))]
    if stims is not None:
        criteria.append(("stim", "id", [str(x) for x in stims]))
    if neurons is not None:
        criteria.append(("neuron", "id", [str(x) for x in neurons]))
    for table, key, values in criteria:
        ids, metas = (c.stim_ids, c.stim_meta) if table == "stim" else (c.neuron_ids, c.nrn_meta)
        keep[table] &= set(select_indices(ids, metas, key, values, "stimulus" if table == "stim" else "neuron"))
    s_idx, n_idx = sorted(keep["stim"]), sorted(keep["neuron"])
    if not s_idx or not n_idx:
        raise SelectionError(f"{c.path}: the selection {[f'{t}:{k}={v}' for t, k, v in criteria]} leaves "
                             f"{len(s_idx)} stimuli and {len(n_idx)} neurons; nothing to write")
    return s_idx, n_idx


def _out_transform(c: Contents, grid: ReadGrid, pooled: bool) -> dict | None:
    """The ``stimuli@transform`` of the rewritten stimuli."""
    stored = c.info.transform
    if c.info.stim_kind != L.STIM_SPECTROGRAM or not stored:
        return copy.deepcopy(stored)
    if grid.needs_waveform:
        return spectrogram_record(c.info, grid)
    if not pooled:
        return copy.deepcopy(stored)
    out = copy.deepcopy(stored)
    out["hop_ms"] = float(grid.dt)
    out["params"] = dict(out.get("params") or {}, pooled_from_hop_ms=float(c.info.dt_ms), pooled_frames=grid.k,
                         pooling="mean of consecutive frames (no waveform kept to recompute them)")
    return out


def _plan(c: Contents, dt_ms, encoding, spectrogram: dict) -> tuple[ReadGrid, str]:
    """The read grid of the rewrite and the output encoding."""
    encoding = encoding or c.info.encoding
    if encoding not in L.ENCODINGS:
        raise InvalidDataError(f"encoding {encoding!r} is not one of {list(L.ENCODINGS)}")
    if c.info.encoding == L.ENCODING_BINNED and encoding == L.ENCODING_EVENTS:
        raise BinningError(f"{c.path}: a binned file holds counts, not spike times; it cannot be rewritten as "
                           "events")
    ds = dataset_from_contents(c, lazy=True, dt_ms=dt_ms, spectrogram=spectrogram)  # checks, reads nothing
    grid = ds.grid
    all_kept = c.info.stim_kind == L.STIM_SPECTROGRAM and all(c.has_waveform(s) for s in range(c.S))
    if all_kept and grid.k != 1:
        grid = replace(grid, recompute=True)  # the recipe at the new hop, not pooled frames
    return grid, encoding


def _row(c: Contents, grid: ReadGrid, s: int, n_idx: list[int], encoding: str) -> list:
    """Stimulus row ``s`` for ``n_idx`` in the output encoding (None where missing)."""
    if encoding == L.ENCODING_EVENTS:  # spike times as stored
        return c.row(s, n_idx)
    raw = c.raw_row(s, n_idx)
    data, reps = grid.bin_raw(raw, int(c.n_bins[s]))
    if grid.response_kind != L.RESPONSE_CONTINUOUS:
        data = np.rint(data).astype(np.int64)
    out, at = [], 0
    for r in reps:
        out.append(data[at : at + r] if r else None)
        at += int(r)
    return out


def _provenance(c: Contents, src: str, params: dict) -> dict:
    meta = copy.deepcopy(c.info.metadata)
    prov = dict(meta.get("provenance") or {})
    prov["rewrites"] = list(prov.get("rewrites") or []) + [{
        "source_uuid": c.info.uuid,
        "source_file": os.path.basename(src),
        "parameters": params,
        "by": f"strfh5 {__version__} (strfh5.rewrite)",
        "at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }]
    meta["provenance"] = prov
    return meta


def rewrite(src, out, *, dt_ms=None, encoding=None, n_bands=None, f_min=None, f_max=None, spec_window_ms=None,
            compression=None, spec_kind=None, stims=None, neurons=None, select=(), keep_waveforms: bool = True,
            overwrite: bool = False, progress: bool | None = None, allow_external: bool = False) -> str:
    """Write ``src`` again at other settings, or a subset of it, as a new valid file ``out``.

    Parameters
    ----------
    src, out : str or os.PathLike
        The file to read and the file to write (never the same).
    dt_ms : float, optional
        Bin width of the new file (events: any; binned: a multiple of the stored one).
    encoding : {'events', 'binned'}, optional
        ``'binned'`` turns an events file into spike counts at ``dt_ms``.
    n_bands, f_min, f_max, spec_window_ms, compression, spec_kind : optional
        Spectrogram parameters, as for :func:`strfh5.load`: the stimuli are
        recomputed from the kept waveforms.
    stims, neurons : list of str, optional
        Ids to keep (all by default).
    select : str or list of str
        Metadata criteria ``"stim:KEY=V1,V2"`` / ``"neuron:KEY=V1"``
        (``KEY`` ``id`` = the ids); every criterion must hold.
    keep_waveforms : bool, default True
        Copy the kept source waveforms of the stimuli written.
    overwrite : bool
        Replace an existing ``out``.
    progress : bool or None
        A tqdm bar on stderr (None: only when stderr is a terminal).
    allow_external : bool
        Read a concatenated ``src`` whose sources lie outside its folder.

    Returns
    -------
    str
        The path written.  Its ``/metadata`` ``provenance.rewrites`` ends with
        ``{source_uuid, source_file, parameters, by, at}``.

    Raises
    ------
    InvalidDataError
        ``out`` is ``src``, or an unknown encoding.
    BinningError, SpectrogramError
        Settings the file cannot be read at (see :func:`strfh5.load`); a
        binned file asked for as events.
    SelectionError
        An unknown id or metadata key, or a selection that keeps nothing.

    Examples
    --------
    >>> strfh5.rewrite("aa1.strf.h5", "aa1_5ms.strf.h5", dt_ms=5, n_bands=34)     # doctest: +SKIP
    >>> strfh5.rewrite("aa1.strf.h5", "mld.strf.h5", select="neuron:area=MLd")  # doctest: +SKIP
    """
    src, out = os.fspath(src), os.fspath(out)
    if os.path.exists(out) and os.path.samefile(src, out):
        raise InvalidDataError(f"rewrite: the output {out} is the input file; write to another path")
    spectrogram = dict(n_bands=n_bands, f_min=f_min, f_max=f_max, spec_window_ms=spec_window_ms,
                       compression=compression, spec_kind=spec_kind)
    params = {k: v for k, v in dict(dt_ms=dt_ms, encoding=encoding, **spectrogram, stims=stims, neurons=neurons,
                                    select=[select] if isinstance(select, str) else list(select or ()),
                                    keep_waveforms=keep_waveforms).items() if v not in (None, [])}
    with FileContents(src, allow_external=allow_external) as c:
        grid, enc = _plan(c, dt_ms, encoding, spectrogram)
        s_idx, n_idx = _selection(c, stims, neurons, select)
        pooled = c.info.stim_kind == L.STIM_SPECTROGRAM and grid.k not in (None, 1) and not grid.needs_waveform
        dims = list(c.info.stim_dims)
        if grid.n_bands is not None:
            dims[1] = grid.n_bands
        w = StreamWriter(
            out, encoding=enc, dt_ms=grid.dt, stim_kind=c.info.stim_kind, stim_dims=dims,
            neuron_ids=[c.neuron_ids[n] for n in n_idx], nrn_meta=[c.nrn_meta[n] for n in n_idx],
            file_meta=_provenance(c, src, params), schemas=c.info.schemas or None,
            response_kind=c.info.response_kind if enc == c.info.encoding else None, transform=_out_transform(c, grid, pooled),
            time_dtype=c.stored_dtype() if enc == L.ENCODING_EVENTS else np.float64, overwrite=overwrite)
        with w, tqdm(total=len(s_idx), desc=f"rewrite {os.path.basename(src)}", unit="stim",
                     disable=None if progress is None else not progress) as bar:
            for j, s in enumerate(s_idx):
                _write_stimulus(w, c, grid, s, keep_waveforms)
                w.write_row(j, _row(c, grid, s, n_idx, enc))
                bar.update(1)
    return w.path


def _write_stimulus(w: StreamWriter, c: Contents, grid: ReadGrid, s: int, keep_waveforms: bool) -> None:
    """Stimulus ``s`` on the new grid (with its kept waveform when asked)."""
    stim = read_stim(c, grid, s).numpy()
    n_bins = int(grid.n_bins(int(c.n_bins[s])))
    if c.info.stim_kind == L.STIM_WAVEFORM:
        w.add_stimulus(stim, id=c.stim_ids[s], meta=c.stim_meta[s], n_bins=n_bins,
                       sample_rate=c.stim_sample_rate(s))
        return
    wf = c.waveform(s) if keep_waveforms else None
    w.add_stimulus(stim, id=c.stim_ids[s], meta=c.stim_meta[s], waveform=None if wf is None else wf[0],
                   sample_rate=None if wf is None else wf[1])
