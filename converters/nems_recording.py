"""Reading (and writing) LBHB NEMS recordings without the NEMS packages.

NAT4, Espejo and Wingert 2026 publish their data as NEMS "recordings": a
``.tgz`` (or a folder) holding, per signal ``<sig>``,

* ``<rec>.<sig>.json`` — sidecar: ``name``, ``fs``, ``chans``, ``meta``,
  ``recording``, ``segments`` and ``signal_type`` (the Python class name, e.g.
  ``"<class 'nems0.signal.PointProcess'>"``; files written before 2018 have
  no ``signal_type``: they are rasterized signals);
* the data: ``<rec>.<sig>.csv`` (rasterized: headerless, one row per time
  sample, one column per channel), or ``<rec>.<sig>.h5`` — one dataset per
  channel holding spike times in s (point process), one ``(F, T)`` dataset per
  epoch name replayed at every occurrence of that epoch (tiled signal), or a
  ``raster`` dataset ``(chans, time)`` (rasterized, newer NEMS);
* ``<rec>.<sig>.epoch.csv`` — the epoch table ``start,end,name`` (s; names may
  be CSV-quoted, columns are found by their header names);

plus ``<rec>.meta.json`` (recording metadata).  Files may sit at the top of
the archive or in a ``<rec>/`` folder; views of a recording written by later
NEMS versions carry a ``NN.`` prefix (``view`` selects one).

:func:`read_recording` returns a :class:`Recording` of :class:`Signal` objects;
data are read when first used, so metadata and epochs can be read from a
release whose data files are absent.  (The tests build release-shaped
fixtures with a writer of the same layout, ``tests/nems_writer.py``.)

Epoch bounds follow NEMS: an occurrence ``[start, end)`` covers samples
``round(start * fs)`` to ``round(end * fs)`` of a rasterized signal, and the
spike times ``t`` with ``start <= t < end`` of a point process.
"""

from __future__ import annotations

import io
import json
import os
import re
import tarfile
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np

from strfh5.errors import MissingRawFileError, RawDataError
from strfh5.optional import require
from .nems_epochs import Epochs, read_epochs

__all__ = [
    "RASTERIZED",
    "POINT_PROCESS",
    "TILED",
    "Epochs",
    "Signal",
    "Recording",
    "read_recording",
    "read_epochs",
    "signal_kind",
    "spikes_in_epochs",
    "counts_as_bin_centres",
    "site_row",
]

RASTERIZED = "rasterized"
POINT_PROCESS = "point_process"
TILED = "tiled"
_KINDS = (RASTERIZED, POINT_PROCESS, TILED)
#: the class names NEMS writes in ``signal_type``, for each kind
_CLASS_NAMES = {RASTERIZED: "RasterizedSignal", POINT_PROCESS: "PointProcess", TILED: "TiledSignal"}
_VIEW_RE = re.compile(r"^(\d+)\.(.+)$")


def signal_kind(signal_type: str | None, where: str = "signal") -> str:
    """Map a sidecar's ``signal_type`` to :data:`RASTERIZED`, :data:`POINT_PROCESS` or :data:`TILED`.

    ``None`` (files written before NEMS stored the type) means rasterized.
    """
    if signal_type is None or signal_type == "":
        return RASTERIZED
    text = str(signal_type)
    for kind, cls in _CLASS_NAMES.items():
        if cls in text or text == kind:
            return kind
    raise RawDataError(
        f"{where}: unknown signal_type {text!r} (expected one naming RasterizedSignal, PointProcess or TiledSignal)"
    )


# ------------------------------------------------------------- file access
class _Folder:
    def __init__(self, root: Path):
        self.root = root
        self.members = sorted(str(p.relative_to(root)).replace(os.sep, "/") for p in root.rglob("*") if p.is_file())

    def open(self, member: str):
        return open(self.root / member, "rb")

    def describe(self, member: str) -> str:
        return str(self.root / member)


class _Tar:
    def __init__(self, path: Path):
        self.path = path
        try:
            with tarfile.open(path, "r:*") as tf:
                self.members = sorted(m.name for m in tf.getmembers() if m.isfile())
        except (tarfile.TarError, OSError, EOFError) as e:
            raise RawDataError(f"{path}: not a readable tar archive ({e})") from None

    def open(self, member: str):
        tf = tarfile.open(self.path, "r:*")
        fh = tf.extractfile(member)
        if fh is None:  # pragma: no cover - members are regular files
            tf.close()
            raise RawDataError(f"{self.describe(member)}: not a regular file")
        data = fh.read()
        tf.close()
        return io.BytesIO(data)

    def read_many(self, members: Iterable[str]) -> dict[str, bytes]:
        """Read several members in one pass over the archive."""
        want = set(members)
        out = {}
        with tarfile.open(self.path, "r:*") as tf:
            for m in tf:
                if m.name in want and m.isfile():
                    out[m.name] = tf.extractfile(m).read()
        return out

    def describe(self, member: str) -> str:
        return f"{self.path}:{member}"


# ------------------------------------------------------------------ signals
@dataclass
class Signal:
    """One signal of a NEMS recording.

    Attributes
    ----------
    name, recording : str
    fs : float
        Sampling rate (Hz).
    chans : list of str or None
    meta : dict or None
    segments : numpy.ndarray or None
        ``(K, 2)`` ``[start, end)`` sample ranges of the pieces the signal
        was concatenated from (None when the sidecar has none).  NEMS shifts
        a piece's epochs by the samples before it when it concatenates, so
        epochs index the whole signal directly; :func:`read_recording`
        therefore accepts only contiguous segments (each starts where the
        previous one ends) and refuses gaps or overlaps, where epoch times
        could not be mapped to samples.
    kind : {'rasterized', 'point_process', 'tiled'}
    epochs : Epochs or None
        None when the release has no epoch table for the signal.
    sidecar : dict
        The whole JSON sidecar.
    data_file : str or None
        Where the data are (``None`` when the release lacks them).
    """

    name: str
    recording: str
    fs: float
    chans: list[str] | None
    meta: dict | None
    segments: Any
    kind: str
    epochs: Epochs | None
    sidecar: dict = field(repr=False, default_factory=dict)
    data_file: str | None = None
    _loader: Callable[[], Any] | None = field(default=None, repr=False)
    _data: Any = field(default=None, repr=False)

    @property
    def has_data(self) -> bool:
        return self._data is not None or self._loader is not None

    @property
    def data(self):
        """The signal's data, read on first use.

        rasterized: ``(C, T)`` float64 array; point process: dict channel ->
        1-D float64 spike times (s); tiled: dict epoch name -> ``(F, T)`` array.
        """
        if self._data is None:
            if self._loader is None:
                raise MissingRawFileError(
                    f"signal {self.name!r} of recording {self.recording!r}: its data file "
                    f"({self.name}.csv or .h5) is not in the release"
                )
            data = self._loader()
            if self.kind == RASTERIZED and self.chans is not None and data.size and data.shape[0] != len(self.chans):
                raise RawDataError(
                    f"{self.data_file}: {data.shape[0]} columns for the {len(self.chans)} channels of the sidecar"
                )
            self._data = data
        return self._data

    @property
    def n_samples(self) -> int:
        """Number of time samples (rasterized signals)."""
        if self.kind != RASTERIZED:
            raise RawDataError(f"signal {self.name!r} is a {self.kind} signal: it has no sample axis")
        return int(self.data.shape[1])

    def bounds(self, name: str) -> np.ndarray:
        """``(K, 2)`` occurrences of epoch ``name`` rounded to this signal's sample grid (s)."""
        if self.epochs is None:
            raise RawDataError(f"signal {self.name!r} of recording {self.recording!r} has no epoch table")
        b = self.epochs.occurrences(name)
        return np.round(b * self.fs) / self.fs

    def extract_epoch(self, name: str):
        """All occurrences of epoch ``name``.

        rasterized: ``(K, C, T)`` array (occurrences shorter than the longest
        are NaN-padded); point process: list of K dicts channel -> spike times
        (s) relative to the occurrence start; tiled: the ``(F, T)`` tile.
        """
        if self.kind == TILED:
            try:
                return self.data[name]
            except KeyError:
                raise RawDataError(
                    f"tiled signal {self.name!r} of recording {self.recording!r} has no tile for epoch {name!r}"
                ) from None
        b = self.bounds(name)
        if b.shape[0] == 0:
            raise RawDataError(f"recording {self.recording!r}, signal {self.name!r}: no epoch named {name!r}")
        if self.kind == POINT_PROCESS:
            out = []
            for lo, hi in b:
                out.append({c: t[(t >= lo) & (t < hi)] - lo for c, t in self.data.items()})
            return out
        x = self.data
        idx = np.round(b * self.fs).astype(np.int64)
        T = int((idx[:, 1] - idx[:, 0]).max())
        out = np.full((b.shape[0], x.shape[0], T), np.nan)
        for k, (i0, i1) in enumerate(idx):
            if i0 < 0 or i1 > x.shape[1]:
                raise RawDataError(
                    f"recording {self.recording!r}, signal {self.name!r}: epoch {name!r} occurrence {k} "
                    f"[{b[k, 0]}, {b[k, 1]}] s lies outside the signal's {x.shape[1]} samples at {self.fs} Hz"
                )
            out[k, :, : i1 - i0] = x[:, i0:i1]
        return out


@dataclass
class Recording:
    """A NEMS recording: its name, metadata and signals by name."""

    name: str
    meta: dict | None
    signals: "OrderedDict[str, Signal]"
    path: str = ""

    def __getitem__(self, name: str) -> Signal:
        try:
            return self.signals[name]
        except KeyError:
            raise RawDataError(
                f"{self.path or self.name}: recording has no signal {name!r} (signals: {list(self.signals)})"
            ) from None

    def __contains__(self, name: str) -> bool:
        return name in self.signals


def _parse_json(raw: bytes, where: str):
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise RawDataError(f"{where}: not valid JSON ({e})") from None


def _segments(value, where: str) -> np.ndarray | None:
    """A sidecar's ``segments`` as a ``(K, 2)`` int array; refuses malformed or non-contiguous ones."""
    if value is None:
        return None
    try:
        seg = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise RawDataError(f"{where}: 'segments' must be a list of [start, end] sample pairs, got {value!r}") from None
    if seg.size == 0:
        return None
    if seg.ndim == 1 and seg.size == 2:
        seg = seg[None, :]
    if seg.ndim != 2 or seg.shape[1] != 2 or not np.all(np.isfinite(seg)) or np.any(seg != np.round(seg)):
        raise RawDataError(f"{where}: 'segments' must be a list of [start, end] sample pairs, got {value!r}")
    seg = seg.astype(np.int64)
    if np.any(seg[:, 1] < seg[:, 0]) or seg[0, 0] < 0:
        raise RawDataError(f"{where}: 'segments' has a segment ending before it starts, or a negative start")
    gaps = np.flatnonzero(seg[1:, 0] != seg[:-1, 1])
    if gaps.size:
        k = int(gaps[0]) + 1
        raise RawDataError(
            f"{where}: segment {k} starts at sample {seg[k, 0]} but segment {k - 1} ends at {seg[k - 1, 1]}; "
            "only contiguous segments (a signal concatenated in time, whose epochs index it directly) are "
            "supported — epoch times of a signal with gaps or overlaps cannot be mapped to its samples"
        )
    return seg


def _load_csv(src, member: str, dtype) -> np.ndarray:
    pd = require("pandas", extra="convert", purpose="reading NEMS recordings (CSV signals)")
    where = src.describe(member)
    try:
        with src.open(member) as fh:
            df = pd.read_csv(fh, header=None, dtype=dtype, na_values=["nan", "NaN", "NAN"], keep_default_na=True)
    except pd.errors.EmptyDataError:
        return np.zeros((0, 0), dtype=dtype)
    except (ValueError, pd.errors.ParserError) as e:
        raise RawDataError(f"{where}: not a headerless numeric CSV (time x channels): {e}") from None
    return np.ascontiguousarray(df.to_numpy().T)


def _load_h5(src, member: str, kind: str, chans, dtype):
    import h5py

    where = src.describe(member)
    try:
        with src.open(member) as fh:
            bio = io.BytesIO(fh.read())
        f = h5py.File(bio, "r")
    except OSError as e:
        raise RawDataError(f"{where}: not a readable HDF5 file ({e})") from None
    with f:
        if kind == RASTERIZED:
            if "raster" not in f:
                raise RawDataError(f"{where}: a rasterized signal's HDF5 file must hold a 'raster' dataset")
            return np.asarray(f["raster"][()], dtype=dtype)
        out: dict[str, np.ndarray] = OrderedDict()

        def visit(name, obj):
            if isinstance(obj, h5py.Dataset):
                out[name] = np.asarray(obj[()])

        f.visititems(visit)
    if kind == POINT_PROCESS:
        pp: dict[str, np.ndarray] = OrderedDict()
        order = list(chans) if chans else list(out)
        missing = [c for c in order if c not in out]
        if missing:
            raise RawDataError(f"{where}: no spike-time dataset for channel(s) {missing[:5]} named in the sidecar")
        for c in order:
            t = np.asarray(out[c], dtype=np.float64).reshape(-1)
            if t.size and not np.all(np.isfinite(t)):
                raise RawDataError(f"{where}: spike times of channel {c!r} contain NaN or Inf")
            pp[c] = np.sort(t, kind="stable")
        return pp
    tiles = OrderedDict()
    for k, v in out.items():
        v = np.asarray(v, dtype=dtype)
        if v.ndim == 1:
            v = v[None, :]
        if v.ndim != 2:
            raise RawDataError(f"{where}: tile {k!r} has shape {v.shape}; a tiled signal holds (F, T) arrays")
        tiles[k] = v
    return tiles


def _signal_files(members: Sequence[str]) -> tuple[dict, dict]:
    """Group archive members: ``{view: {signal_base: {ext: member}}}`` and meta files per view."""
    groups: dict[int | None, dict[str, dict[str, str]]] = {}
    metas: dict[int | None, str] = {}
    for m in members:
        base = m.rsplit("/", 1)[-1]
        if base.startswith("._") or base.startswith("."):
            continue  # macOS resource forks, hidden files
        view = None
        vm = _VIEW_RE.match(base)
        if vm and vm.group(2).count(".") >= 2:
            view, base = int(vm.group(1)), vm.group(2)
        if base == "meta.json" or base.endswith(".meta.json"):
            metas[view] = m
            continue
        for ext in (".epoch.csv", ".json", ".csv", ".h5"):
            if base.endswith(ext):
                stem = base[: -len(ext)]
                groups.setdefault(view, {}).setdefault(stem, {})[ext] = m
                break
    return groups, metas


def read_recording(
    path,
    *,
    signals: Sequence[str] | None = None,
    load_data: bool = False,
    view: int | None = None,
    dtype=np.float64,
) -> Recording:
    """Read a NEMS recording from a ``.tgz`` (any tar compression) or a folder.

    Parameters
    ----------
    path : str or os.PathLike
    signals : sequence of str, optional
        Only these signals (by their sidecar ``name``); all by default.
    load_data : bool
        Read the data now (in one pass over the archive) rather than at first
        use of :attr:`Signal.data`.
    view : int, optional
        Which ``NN.``-prefixed view to read when the archive holds several
        (the first by default).
    dtype : numpy dtype
        Type of rasterized and tiled data (float64 by default).

    Raises
    ------
    MissingRawFileError
        ``path`` does not exist.
    RawDataError
        The archive is not a NEMS recording, or a sidecar/epoch table/data
        file is malformed (the message names the member).
    """
    p = Path(path)
    if not p.exists():
        raise MissingRawFileError(f"{p}: NEMS recording not found")
    src = _Folder(p) if p.is_dir() else _Tar(p)
    groups, metas = _signal_files(src.members)
    if not groups:
        raise RawDataError(f"{p}: no NEMS signal sidecars (<rec>.<signal>.json) found")
    views = sorted(groups, key=lambda v: -1 if v is None else v)
    if view is None:
        view = views[0]
    elif view not in groups:
        raise RawDataError(f"{p}: no view {view} (views: {views})")
    files = groups[view]
    json_members = [f[".json"] for f in files.values() if ".json" in f]
    meta_member = metas.get(view, metas.get(None))
    small = json_members + [f[".epoch.csv"] for f in files.values() if ".epoch.csv" in f]
    if meta_member:
        small.append(meta_member)
    blobs = src.read_many(small) if isinstance(src, _Tar) else {m: src.open(m).read() for m in small}

    rec_meta = _parse_json(blobs[meta_member], src.describe(meta_member)) if meta_member else None
    out: OrderedDict[str, Signal] = OrderedDict()
    rec_name = None
    for stem in sorted(files):
        f = files[stem]
        if ".json" not in f:
            continue
        jm = f[".json"]
        side = _parse_json(blobs[jm], src.describe(jm))
        if not isinstance(side, dict) or "fs" not in side:
            raise RawDataError(f"{src.describe(jm)}: a NEMS signal sidecar must be a JSON object with 'fs'")
        name = str(side.get("name") or stem.rsplit(".", 1)[-1])
        if signals is not None and name not in signals:
            continue
        if name in out:
            raise RawDataError(f"{p}: two sidecars describe signal {name!r} ({out[name].sidecar.get('_member')}, {jm})")
        try:
            fs = float(side["fs"])
        except (TypeError, ValueError):
            raise RawDataError(f"{src.describe(jm)}: fs {side['fs']!r} is not a number") from None
        if not np.isfinite(fs) or fs <= 0:
            raise RawDataError(f"{src.describe(jm)}: fs must be positive, got {fs}")
        kind = signal_kind(side.get("signal_type"), src.describe(jm))
        chans = side.get("chans")
        if chans is not None:
            chans = [str(c) for c in chans]
        epochs = None
        if ".epoch.csv" in f:
            em = f[".epoch.csv"]
            epochs = read_epochs(blobs[em], src.describe(em))
        data_member = f.get(".h5") if kind != RASTERIZED else f.get(".csv") or f.get(".h5")
        loader = None
        if data_member is not None:
            if data_member.endswith(".csv"):
                loader = (lambda m=data_member: _load_csv(src, m, dtype))
            else:
                loader = (lambda m=data_member, k=kind, c=chans: _load_h5(src, m, k, c, dtype))
        side = dict(side)
        side["_member"] = jm
        sig = Signal(
            name=name,
            recording=str(side.get("recording") or ""),
            fs=fs,
            chans=chans,
            meta=side.get("meta"),
            segments=_segments(side.get("segments"), src.describe(jm)),
            kind=kind,
            epochs=epochs,
            sidecar=side,
            data_file=src.describe(data_member) if data_member else None,
            _loader=loader,
        )
        out[name] = sig
        rec_name = rec_name or sig.recording
    if signals is not None:
        absent = [s for s in signals if s not in out]
        if absent:
            raise RawDataError(f"{p}: recording has no signal(s) {absent} (signals: {sorted(_all_names(files))})")
    if load_data:
        for sig in out.values():
            if sig._loader is not None:
                sig.data  # noqa: B018 - read now
    if not rec_name:
        rec_name = (meta_member or p.name).rsplit("/", 1)[-1].split(".")[0]
    return Recording(name=rec_name, meta=rec_meta, signals=out, path=str(p))


def _all_names(files) -> list[str]:
    return [stem.rsplit(".", 1)[-1] for stem in files]


# ------------------------------------------------------------------ writer
def spikes_in_epochs(signal: Signal, bounds: np.ndarray, onset_offsets=None) -> dict[str, list[np.ndarray]]:
    """Spike times (ms) of every channel of a point process in each ``[start, end)`` of ``bounds``.

    Times are relative to ``start + onset_offsets[k]`` (s; 0 by default), so
    spikes before the sound onset are negative.  Returns ``{channel: [K arrays]}``.
    """
    if signal.kind != POINT_PROCESS:
        raise RawDataError(f"signal {signal.name!r} of {signal.recording!r} is a {signal.kind} signal, not spike times")
    off = np.zeros(len(bounds)) if onset_offsets is None else np.asarray(onset_offsets, dtype=np.float64)
    out: dict[str, list[np.ndarray]] = OrderedDict()
    for c, t in signal.data.items():
        lo = np.searchsorted(t, bounds[:, 0], side="left")
        hi = np.searchsorted(t, bounds[:, 1], side="left")
        out[c] = [(t[a:b] - (s + o)) * 1000.0 for a, b, s, o in zip(lo, hi, bounds[:, 0], off)]
    return out


def counts_as_bin_centres(signal: Signal, bounds: np.ndarray) -> dict[str, list[np.ndarray]]:
    """Rasterized spike counts turned into spike times (ms) at bin centres, per channel and occurrence.

    Only for releases that publish counts where the rest of the source has
    spike times: binning the result at the signal's bin width (or a multiple
    aligned with it) gives back the counts exactly; finer bins do not
    recover the true spike times.
    """
    if signal.kind != RASTERIZED:
        raise RawDataError(f"signal {signal.name!r} is not rasterized")
    x = signal.data
    dt = 1000.0 / signal.fs
    out: dict[str, list[np.ndarray]] = OrderedDict()
    chans = signal.chans or [str(i) for i in range(x.shape[0])]
    idx = np.round(bounds * signal.fs).astype(np.int64)
    if np.any(idx[:, 0] < 0) or np.any(idx[:, 1] > x.shape[1]):
        raise RawDataError(f"{signal.data_file}: an epoch lies outside the signal's {x.shape[1]} samples")
    for ci, c in enumerate(chans):
        per = []
        for i0, i1 in idx:
            seg = x[ci, i0:i1]
            if np.any(np.isnan(seg)) or np.any(seg < 0) or not np.array_equal(seg, np.round(seg)):
                raise RawDataError(
                    f"{signal.data_file}: channel {c!r} holds values that are not spike counts in [{i0}, {i1})"
                )
            per.append(np.repeat((np.arange(seg.size) + 0.5) * dt, seg.astype(np.int64)))
        out[c] = per
    return out


def site_row(sites: Sequence[Mapping[str, Any]], owner: Sequence[tuple[int, str]], name: str) -> list:
    """One stimulus row of a multi-site release, for :meth:`StreamWriter.write_row`.

    ``sites[i]["per_name"]`` maps an epoch name to ``{channel: [trials]}`` of
    site ``i``; ``owner[n] = (i, channel)`` says where neuron ``n`` was
    recorded.  A neuron whose site did not play ``name``, or played it
    without a trial, gets None (a missing pair, not an empty one).
    """
    row = []
    for si, c in owner:
        per = sites[si]["per_name"].get(name)
        row.append(per[c] if per is not None and per[c] else None)
    return row
