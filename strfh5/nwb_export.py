"""Exporting a strfh5 file to NWB (Neurodata Without Borders): :func:`export_nwb`.

NWB files hold recordings on one session clock, strfh5 files hold responses
relative to each stimulus onset.  The export lays the presentations out on a
**synthetic timeline**, documented in the file:

* presentations come stimulus by stimulus (file order), repeat by repeat
  (repeat ``r`` of stimulus ``s`` is presentation ``(s, r)`` for every
  neuron with more than ``r`` repeats of ``s``);
* each presentation gets a *window*: from its earliest spike (pre-onset
  spikes included) to the later of its stimulus end and its last spike, each
  widened by ``margin_s``; windows follow each other with ``gap_s`` seconds
  of silence between them, starting at t = 0;
* the presentation's ``start_time`` is the stimulus onset, ``stop_time`` the
  onset plus ``n_bins x dt_ms``.

What goes where:

* ``/intervals/presentations`` (:class:`pynwb.epoch.TimeIntervals`):
  ``start_time``, ``stop_time``, ``stimulus`` (id), ``stimulus_index``,
  ``repeat``, ``window_start_time``, ``window_stop_time``.
* ``/units`` (events files): per neuron ``spike_times`` (s, on the timeline,
  sorted within each repeat as NWB requires ascending times),
  ``obs_intervals`` (the windows of the presentations the neuron was recorded
  in: a pair not recorded in the strfh5 file is a presentation outside them),
  ``unit_name`` (neuron id), ``strfh5_times_ms`` (the exact spike times in ms
  from onset, aligned with ``spike_times``, so the round trip is bit-exact for
  files whose repeats are sorted, as SPEC §4.2 recommends) and
  ``strfh5_metadata`` (the neuron's metadata record as JSON).
* binned files: ``/processing/strfh5/binned_responses``, a ``TimeSeries`` of
  ``(samples, N)`` values with explicit timestamps (each presentation's
  ``n_bins`` bins from its onset; 0 for counts / NaN for continuous signals
  where a neuron was not recorded), and ``/processing/strfh5/neurons``, a
  table naming each column's neuron, its metadata and the presentations it
  was recorded in (a Units table without spike times is refused by
  nwbinspector).  A stimulus waveform kept beside a spectrogram is not
  exported.
* ``/stimulus/templates/<id>``: one ``TimeSeries`` per stimulus, time on the
  first axis (the strfh5 array with its last axis moved first), at
  ``1000 / dt_ms`` Hz (``sample_rate`` for waveform stimuli); ``comments``
  holds ``{"strfh5": {id, index, stim_kind, n_bins, meta}}``.
* ``NWBFile.notes``: ``{"strfh5_export": {...}}`` — the file's root facts,
  ``/metadata``, the stimulus transform and the timeline parameters.

:mod:`strfh5.converters.nwb` reads such a file back to the same responses,
stimuli and ids.  Requires the ``[nwb]`` extra (pynwb).
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import re
import uuid as _uuid
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .version import __version__
from . import layout as L
from . import nwb_layout as NL
from .optional import require
from .errors import ExportError
from .reader import load

__all__ = ["export_nwb", "Timeline"]


def _pynwb():
    return require("pynwb", extra="nwb", purpose="exporting to NWB")


@dataclass
class Timeline:
    """The synthetic timeline of an export: one entry per presentation, in time order (seconds)."""

    stim: list[int] = field(default_factory=list)
    repeat: list[int] = field(default_factory=list)
    onset: list[float] = field(default_factory=list)
    stop: list[float] = field(default_factory=list)
    win_start: list[float] = field(default_factory=list)
    win_stop: list[float] = field(default_factory=list)

    def add(self, s: int, r: int, onset: float, stop: float, w0: float, w1: float) -> None:
        for name, v in zip(("stim", "repeat", "onset", "stop", "win_start", "win_stop"), (s, r, onset, stop, w0, w1)):
            getattr(self, name).append(v)

    def index(self) -> dict[tuple[int, int], int]:
        """``(stimulus, repeat) -> presentation position``."""
        return {(s, r): p for p, (s, r) in enumerate(zip(self.stim, self.repeat))}


def _row_extent(row: list, reps: np.ndarray) -> dict[int, tuple[float, float]]:
    """Earliest and latest spike time (ms) of each repeat of one events row (over its neurons)."""
    out: dict[int, tuple[float, float]] = {}
    for el, R in zip(row, reps):
        if el is None:
            continue
        for r, t in enumerate(el.trials()[: int(R)]):
            if t.size:
                lo, hi = out.get(r, (np.inf, -np.inf))
                out[r] = (min(lo, float(t.min())), max(hi, float(t.max())))
    return out


def build_timeline(contents, gap_s: float, margin_s: float) -> Timeline:
    """Lay every presentation of ``contents`` out end to end (see the module docstring)."""
    info = contents.info
    tl = Timeline()
    cursor = 0.0
    for s in range(contents.S):
        reps = np.asarray(contents.repeats[s], dtype=np.int64)
        n_rep = int(reps.max()) if reps.size else 0
        dur_ms = float(contents.n_bins[s]) * info.dt_ms
        extent = _row_extent(contents.row(s), reps) if info.encoding == L.ENCODING_EVENTS else {}
        for r in range(n_rep):
            lo, hi = extent.get(r, (0.0, dur_ms))
            pre = max(0.0, -lo) / 1000.0 + margin_s
            post = max(dur_ms, hi) / 1000.0 + margin_s
            onset = cursor + pre
            tl.add(s, r, onset, onset + dur_ms / 1000.0, cursor, onset + post)
            cursor = onset + post + gap_s
    return tl


def _session_start(created_at: str) -> _dt.datetime:
    try:
        t = _dt.datetime.fromisoformat(created_at.replace("Z", "+00:00"))
    except (ValueError, AttributeError):
        t = _dt.datetime(1970, 1, 1)
    return t if t.tzinfo else t.replace(tzinfo=_dt.timezone.utc)


def _notes(contents, path: str, gap_s: float, margin_s: float) -> str:
    info = contents.info
    rec = {
        "strfh5_version": __version__,
        "source_file": os.path.basename(path),
        "uuid": info.uuid,
        "format_version": f"{info.version[0]}.{info.version[1]}",
        "encoding": info.encoding,
        "response_kind": info.response_kind,
        "dt_ms": info.dt_ms,
        "stim_kind": info.stim_kind,
        "stim_dims": list(info.stim_dims),
        "time_dtype": np.dtype(contents.stored_dtype()).name if info.encoding == L.ENCODING_EVENTS else None,
        "transform": info.transform,
        "metadata": info.metadata,
        "timeline": {
            "order": "stimulus by stimulus in file order, repeat by repeat",
            "gap_s": gap_s,
            "margin_s": margin_s,
            "start_time": "stimulus onset; stop_time = onset + n_bins * dt_ms",
            "window": "earliest spike (or onset) - margin_s to max(stimulus end, last spike) + margin_s",
        },
    }
    return json.dumps({NL.NOTES_KEY: rec}, allow_nan=False)


def _subject(pynwb, contents):
    """One NWB subject standing for the animals of the file (their ids, when known, in its description)."""
    meta = contents.info.metadata
    animals = sorted({str(m["animal"]) for m in contents.nrn_meta if m.get("animal") not in (None, "")})
    species = str(meta.get("species") or "")
    latin = re.search(r"\(([A-Z][a-z]+ [a-z]+)\)", species)
    kw = {"species": latin.group(1) if latin else species} if species else {}
    return pynwb.file.Subject(
        subject_id=(animals[0] if len(animals) == 1 else f"{len(animals) or 'unknown number of'} animals"),
        description=("animals: " + ", ".join(animals)) if animals else "animals not recorded in the strfh5 file",
        sex="U", age="P0D/", **kw)


def _nwbfile(pynwb, contents, path: str, gap_s: float, margin_s: float):
    info = contents.info
    meta = info.metadata
    kw = {}
    if meta.get("doi"):
        kw["related_publications"] = [f"doi:{meta['doi']}"]
    if meta.get("species") or meta.get("preparation"):
        kw["experiment_description"] = "; ".join(str(meta[k]) for k in ("species", "preparation") if meta.get(k))
    return pynwb.NWBFile(
        subject=_subject(pynwb, contents),
        session_description=str(meta.get("title") or f"strfh5 file {os.path.basename(path)}"),
        identifier=str(_uuid.uuid4()),
        session_start_time=_session_start(info.created_at),
        session_id=info.uuid or None,
        notes=_notes(contents, path, gap_s, margin_s),
        source_script=f"strfh5 {__version__} export-nwb (strfh5.nwb_export)",
        source_script_file_name="strfh5/nwb_export.py",
        **kw,
    )


def _add_presentations(pynwb, nwbfile, contents, tl: Timeline) -> None:
    ti = pynwb.epoch.TimeIntervals(
        name=NL.PRESENTATIONS,
        description="Stimulus presentations on the synthetic timeline of a strfh5 export (see NWBFile.notes).",
    )
    ti.add_column(NL.COL_STIMULUS, "Stimulus id (the name of its stimulus template).")
    ti.add_column(NL.COL_STIMULUS_INDEX, "Row of the stimulus in the strfh5 file.")
    ti.add_column(NL.COL_REPEAT, "Repeat number of the stimulus, from 0.")
    ti.add_column(NL.COL_WINDOW_START, "Start of the span of spikes kept around the presentation, in s.")
    ti.add_column(NL.COL_WINDOW_STOP, "End of the span of spikes kept around the presentation, in s.")
    for p in range(len(tl.stim)):
        s = tl.stim[p]
        ti.add_interval(start_time=tl.onset[p], stop_time=tl.stop[p], **{
            NL.COL_STIMULUS: contents.stim_ids[s], NL.COL_STIMULUS_INDEX: s, NL.COL_REPEAT: tl.repeat[p],
            NL.COL_WINDOW_START: tl.win_start[p], NL.COL_WINDOW_STOP: tl.win_stop[p]})
    nwbfile.add_time_intervals(ti)


def _add_templates(pynwb, nwbfile, contents) -> None:
    info = contents.info
    names: dict[str, str] = {}
    for s, sid in enumerate(contents.stim_ids):
        name = NL.template_name(sid)
        if name in names:
            raise ExportError(
                f"stimulus ids {names[name]!r} and {sid!r} both become the NWB name {name!r} "
                "('/' and ':' are not allowed in NWB names); rename one before exporting"
            )
        names[name] = sid
        data = np.moveaxis(np.asarray(contents.stim(s)), -1, 0)
        rate = contents.stim_sample_rate(s) if info.stim_kind == L.STIM_WAVEFORM else 1000.0 / info.dt_ms
        comments = {NL.TEMPLATE_KEY: {"id": sid, "index": s, "stim_kind": info.stim_kind,
                                      "n_bins": int(contents.n_bins[s]), "meta": contents.stim_meta[s]}}
        nwbfile.add_stimulus_template(pynwb.TimeSeries(
            name=name, data=data, unit="a.u.", rate=float(rate), starting_time=0.0,
            description=f"strfh5 stimulus {sid!r} ({info.stim_kind}; time first, then the axes "
                        f"{tuple(info.stim_dims)} of the strfh5 array)",
            comments=json.dumps(comments, allow_nan=False)))


def _unit_columns(nwbfile, events: bool) -> None:
    nwbfile.add_unit_column(NL.UNIT_NAME, "Neuron id in the strfh5 file.")
    nwbfile.add_unit_column(NL.UNIT_METADATA, "The neuron's strfh5 metadata record (JSON).")
    if events:
        nwbfile.add_unit_column(NL.UNIT_TIMES_MS, "Each spike's time in ms from the onset of its presentation, "
                                "exactly as stored in the strfh5 file (aligned with spike_times).", index=True)


def _add_units_events(nwbfile, contents, tl: Timeline) -> None:
    N = contents.N
    times: list[list[np.ndarray]] = [[] for _ in range(N)]
    rel: list[list[np.ndarray]] = [[] for _ in range(N)]
    obs: list[list[list[float]]] = [[] for _ in range(N)]
    where = tl.index()
    for s in range(contents.S):
        row = contents.row(s)
        for n, el in enumerate(row):
            if el is None:
                continue
            for r, t in enumerate(el.trials()):
                p = where[(s, r)]
                t64 = np.sort(np.asarray(t, dtype=np.float64), kind="stable")  # NWB: ascending spike times
                times[n].append(tl.onset[p] + t64 / 1000.0)
                rel[n].append(t64)
                obs[n].append([tl.win_start[p], tl.win_stop[p]])
    _unit_columns(nwbfile, True)
    for n in range(N):
        nwbfile.add_unit(
            spike_times=np.concatenate(times[n]) if times[n] else np.empty(0),
            obs_intervals=np.asarray(obs[n], dtype=np.float64).reshape(-1, 2),  # already in time order
            **{NL.UNIT_TIMES_MS: np.concatenate(rel[n]) if rel[n] else np.empty(0),
               NL.UNIT_NAME: contents.neuron_ids[n],
               NL.UNIT_METADATA: json.dumps(contents.nrn_meta[n], allow_nan=False)},
        )


def _add_binned(pynwb, nwbfile, contents, tl: Timeline) -> None:
    from hdmf.common import DynamicTable

    info = contents.info
    N, dt_s = contents.N, info.dt_ms / 1000.0
    continuous = info.response_kind == L.RESPONSE_CONTINUOUS
    dtype = np.float32 if continuous else np.dtype(contents.stored_dtype())
    where = tl.index()
    blocks, stamps = [], []
    seen: list[list[int]] = [[] for _ in range(N)]
    for s in range(contents.S):
        T = int(contents.n_bins[s])
        reps = np.asarray(contents.repeats[s], dtype=np.int64)
        row = contents.row(s)
        for r in range(int(reps.max()) if reps.size else 0):
            p = where[(s, r)]
            block = np.full((T, N), np.nan if continuous else 0, dtype=dtype)
            for n, el in enumerate(row):
                if el is not None and r < reps[n]:
                    block[:, n] = el[r]
                    seen[n].append(p)
            blocks.append(block)
            stamps.append(tl.onset[p] + np.arange(T) * dt_s)
    data = np.concatenate(blocks) if blocks else np.zeros((0, N), dtype)
    unit = str(info.metadata.get("response_units") or ("a.u." if continuous else "spikes/bin"))
    series = pynwb.TimeSeries(
        name=NL.BINNED_SERIES, data=data, unit=unit,
        timestamps=np.concatenate(stamps) if stamps else np.zeros(0),
        description=f"strfh5 binned responses ({info.response_kind}) at dt = {info.dt_ms:g} ms: one column per "
                    f"neuron (rows of the '{NL.NEURONS_TABLE}' table), each presentation's n_bins bins from its "
                    "onset; " + ("NaN" if continuous else "0") + " where the neuron was not recorded (the table's "
                    f"'{NL.COL_PRESENTATIONS}' column lists the presentations it was recorded in)",
    )
    table = DynamicTable(name=NL.NEURONS_TABLE, description="The neurons (columns) of binned_responses.")
    table.add_column(NL.UNIT_NAME, "Neuron id in the strfh5 file.")
    table.add_column(NL.UNIT_METADATA, "The neuron's strfh5 metadata record (JSON).")
    table.add_column(NL.COL_PRESENTATIONS, "Rows of the presentations table in which the neuron was recorded.",
                     index=True)
    for n in range(N):
        table.add_row(**{NL.UNIT_NAME: contents.neuron_ids[n],
                         NL.UNIT_METADATA: json.dumps(contents.nrn_meta[n], allow_nan=False),
                         NL.COL_PRESENTATIONS: np.asarray(seen[n], dtype=np.int64)})
    mod = nwbfile.create_processing_module(NL.PROCESSING, "Responses exported from a strfh5 file.")
    mod.add(series)
    mod.add(table)


def export_nwb(path, out, *, gap_s: float = 1.0, margin_s: float = 0.001, overwrite: bool = False,
               allow_external: bool = False) -> Path:
    """Write the strfh5 file ``path`` as an NWB file ``out`` (see the module docstring for the layout).

    Parameters
    ----------
    path : str or os.PathLike
        A strfh5 file (read with :func:`strfh5.load`).
    out : str or os.PathLike
        The NWB file to write (``*.nwb``); written to a temporary name and
        renamed into place when complete.
    gap_s : float
        Seconds of silence between presentation windows on the timeline.
    margin_s : float
        Seconds added before the first and after the last spike of each window.
    overwrite : bool
        Replace an existing ``out``.
    allow_external : bool
        Read a concatenated file whose sources lie outside its folder.

    Returns
    -------
    pathlib.Path

    Raises
    ------
    MissingDependencyError
        pynwb is not installed.
    ExportError
        Two stimulus ids map to the same NWB name, no pair is recorded, or
        ``gap_s`` / ``margin_s`` is negative.
    """
    pynwb = _pynwb()
    out = Path(out)
    for name, v in (("gap_s", gap_s), ("margin_s", margin_s)):
        if not np.isfinite(v) or v < 0:
            raise ExportError(f"{name} = {v!r} must be a finite number >= 0")
    if out.exists() and not overwrite:
        raise FileExistsError(f"{out} exists (pass overwrite=True / --overwrite to replace it)")
    ds = load(path, lazy=True, allow_external=allow_external)
    c = ds.contents
    tmp = out.with_name(f"{out.stem}.tmp-{_uuid.uuid4().hex[:8]}.nwb")
    try:
        tl = build_timeline(c, float(gap_s), float(margin_s))
        if not tl.stim:
            raise ExportError(f"{path}: no (stimulus, neuron) pair is recorded: nothing to export")
        nwbfile = _nwbfile(pynwb, c, os.fspath(path), float(gap_s), float(margin_s))
        _add_presentations(pynwb, nwbfile, c, tl)
        _add_templates(pynwb, nwbfile, c)
        if c.info.encoding == L.ENCODING_EVENTS:
            _add_units_events(nwbfile, c, tl)
        else:
            _add_binned(pynwb, nwbfile, c, tl)
        with pynwb.NWBHDF5IO(os.fspath(tmp), "w") as io:
            io.write(nwbfile)
        os.replace(tmp, out)
    finally:
        ds.close()
        if tmp.exists():
            tmp.unlink()
    return out
