"""Reading responses and stimuli at a chosen bin width (reader-side binning).

strfh5 files hold raw data (SPEC §4): spike times for ``events`` files, counts
or a continuous signal at the file's ``dt_ms`` for ``binned`` files.  This
module turns one stored stimulus row (a :class:`~strfh5.records.RawRow`) into
the float32 ``(R, T)`` arrays a :class:`~strfh5.dataset.NeuralDataset` hands
out, at the bin width the user asked for, and resamples the stimuli to the same
time grid.  It is pure numpy: it reads nothing.

Rules
-----
* **Events files** can be read at any positive ``dt``.  Bin ``i`` of stimulus
  ``s`` covers ``[start + i*dt, start + (i+1)*dt)``, the last bin closed on the
  right — exactly :func:`numpy.histogram` with edges ``start + k*dt``.  The
  default window is the stimulus, ``[0, n_bins_s * file_dt)``, so
  ``T_s = floor(n_bins_s * file_dt / dt + 1e-9)``; spikes before onset or after
  the stimulus stay in the file and outside the window.  ``window_ms=(start,
  stop)`` (ms from onset; ``stop=None`` means each stimulus's end) widens or
  narrows it; the stimulus is then zero-padded (or cropped) to the same bins.
* **Binned files** can be read at an integer multiple ``k`` of the file's dt
  only: counts are summed over ``k`` bins, continuous signals averaged
  (NaN-aware: the mean of the valid samples, NaN only where all ``k`` are
  NaN); ``T = n_bins // k`` (a trailing partial bin is dropped).  Another bin
  width raises :class:`~strfh5.errors.BinningError`.
* **Spectrogram** stimuli at ``k × file_dt`` are pooled (mean of ``k``
  frames).  Any other bin width needs the stimulus waveform stored in the file
  and recomputes the spectrogram with the file's stored transform parameters
  (``/stimuli@transform``) through :mod:`strfh5.spectrogram`.
  Spectrogram parameters asked for at load (``n_bands``, ``f_min``,
  ``f_max``, ``spec_window_ms``, ``compression``, ``spec_kind``; see
  :data:`SPECTROGRAM_ARGUMENTS`) that differ from the stored ones also
  recompute every spectrogram from its kept waveform, with the stored recipe
  and those parameters, at the read bin width.
  **Video** stimuli are pooled at ``k × file_dt`` and frames repeated at
  ``file_dt / m`` (a frame is shown for its whole duration).  **Waveform**
  stimuli are returned as stored.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

import numpy as np

from . import layout as L
from .arguments import positive_number
from .records import FileInfo, RawRow
from .errors import BinningError, SpectrogramError
from .histogram import bin_events, bin_index, histogram_repeats
from .spectrogram import compute_spectrogram, params_from_transform, transform_dict

__all__ = ["ReadGrid", "plan", "read_records", "check_read_size", "max_row_values", "bin_events", "bin_index", "pool_time", "repeat_time", "place_in_window",
           "recompute_spectrogram",
           "SPECTROGRAM_ARGUMENTS", "spectrogram_changes", "spectrogram_record",
           "load_argument"]

#: ``load()`` argument -> field of the ``/stimuli@transform`` record it sets.  ``window_ms`` already
#: names the response window of :func:`plan`, so the analysis window is ``spec_window_ms``; ``kind``
#: is ``spec_kind`` as in the converters' options.
SPECTROGRAM_ARGUMENTS = {"n_bands": "n_bands", "f_min": "f_min", "f_max": "f_max",
                         "spec_window_ms": "window_ms", "compression": "compression", "spec_kind": "kind"}
#: how a file can be re-made with its waveforms kept (quoted when none is stored)
KEEP_WAVEFORM_HINT = ("convert the release again keeping the waveforms (strfh5 convert ... --keep-waveform, the "
                      "default where the release publishes them)")

_TOL = 1e-9


def _int_ratio(a: float, b: float) -> int | None:
    """``a / b`` as a positive integer when it is one (to 1e-9 relative), else None."""
    r = a / b
    k = int(round(r))
    if k >= 1 and abs(r - k) <= _TOL * max(1.0, r):
        return k
    return None


def pool_time(a: np.ndarray, k: int, how: str) -> np.ndarray:
    """Pool the last axis by ``k``: ``'sum'``, ``'mean'`` or ``'nanmean'`` (trailing remainder dropped)."""
    if k == 1:
        return a
    T = a.shape[-1] // k
    v = a[..., : T * k].reshape(*a.shape[:-1], T, k)
    if how == "sum":
        return v.sum(axis=-1)
    if how == "mean":
        return v.mean(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        valid = ~np.isnan(v)
        tot = np.where(valid, v, 0.0).sum(axis=-1)
        n = valid.sum(axis=-1)
        return np.where(n > 0, tot / np.maximum(n, 1), np.nan)


def repeat_time(a: np.ndarray, m: int) -> np.ndarray:
    """Repeat each frame ``m`` times along the last axis."""
    return a if m == 1 else np.repeat(a, m, axis=-1)


def place_in_window(a: np.ndarray, offset: int, T: int) -> np.ndarray:
    """Frames ``a[..., j]`` placed at output bins ``j - offset``; zeros elsewhere; length ``T``."""
    if offset == 0 and a.shape[-1] == T:
        return a
    out = np.zeros(a.shape[:-1] + (T,), dtype=a.dtype)
    lo, hi = max(0, -offset), min(T, a.shape[-1] - offset)
    if hi > lo:
        out[..., lo:hi] = a[..., lo + offset : hi + offset]
    return out


@dataclass(frozen=True)
class ReadGrid:
    """How a file is read: bin width, window and the resulting time grid.

    Attributes
    ----------
    file_dt : float
        The file's ``dt_ms``.
    dt : float
        The bin width the responses are read at (ms).
    encoding, response_kind, stim_kind : str
        From the file.
    window : tuple or None
        ``(start, stop)`` in ms from onset (``stop`` may be None: the
        stimulus end); None for the default window.
    k : int or None
        ``dt / file_dt`` when it is an integer.
    m : int or None
        ``file_dt / dt`` when it is an integer (finer reads).
    path : str
        Where the data come from, for messages.
    spectrogram : tuple of (str, value)
        Fields of the stored ``/stimuli@transform`` replaced at load (sorted
        ``(field, value)`` pairs, only those that differ from the stored
        record; see :func:`spectrogram_changes`); empty when the stored
        spectrograms are read.
    recompute : bool
        Recompute spectrograms from the kept waveforms even at a multiple
        of the file's bin width (where they would otherwise be pooled):
        :func:`strfh5.rewrite` uses it so the file it writes holds the recipe
        at its own ``dt_ms``.
    """

    file_dt: float
    dt: float
    encoding: str
    response_kind: str
    stim_kind: str
    window: tuple | None
    k: int | None
    m: int | None
    path: str = "<memory>"
    spectrogram: tuple = ()
    recompute: bool = False

    @property
    def is_identity(self) -> bool:
        return self.k == 1 and self.window is None and not self.spectrogram

    @property
    def n_bands(self) -> int | None:
        """Number of bands asked for at load (None: the stored F)."""
        return dict(self.spectrogram).get("n_bands")

    def start(self, s_n_bins: int) -> float:
        """Window start (ms from onset)."""
        return 0.0 if self.window is None else float(self.window[0])

    def stop(self, s_n_bins: int) -> float:
        if self.window is None or self.window[1] is None:
            return s_n_bins * self.file_dt
        return float(self.window[1])

    def n_bins(self, s_n_bins: int) -> int:
        """Response bins ``T`` of a stimulus whose file response length is ``s_n_bins``."""
        if self.encoding == L.ENCODING_BINNED:
            return int(s_n_bins) // self.k
        if self.k == 1 and self.window is None:
            return int(s_n_bins)
        return int(math.floor((self.stop(s_n_bins) - self.start(s_n_bins)) / self.dt + _TOL))

    def n_bins_all(self, file_n_bins) -> np.ndarray:
        """:meth:`n_bins` of every stimulus (int64 array), without a Python call per stimulus."""
        nb = np.asarray(file_n_bins, dtype=np.int64).reshape(-1)
        if self.encoding == L.ENCODING_BINNED:
            return nb // self.k
        if self.k == 1 and self.window is None:
            return nb.copy()
        uniq, inv = np.unique(nb, return_inverse=True)  # one call per distinct length
        return np.array([self.n_bins(int(x)) for x in uniq], dtype=np.int64)[inv.reshape(-1)]

    # ------------------------------------------------------------ responses
    def bin_raw(self, raw: RawRow, s_n_bins: int, compact: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """Bin one stored row.

        ``compact``: binned uint8 counts read at the file's bin width stay
        uint8, and spike times are binned into uint8 counts when no repeat
        holds more than 255 spikes (exact in float32; the caller converts
        them where it copies them).

        Returns
        -------
        data : numpy.ndarray, float32 (uint8 when ``compact`` applies), shape (sum R, T)
            The recorded elements' repeats stacked in element order.
        reps : numpy.ndarray, int64, shape (len(elements),)
            Repeats of each element (0 where missing).
        """
        T = self.n_bins(s_n_bins)
        reps = raw.reps
        total = int(reps.sum())
        if total == 0:
            return np.zeros((0, T), dtype=np.float32), reps
        if self.encoding == L.ENCODING_EVENTS:
            # no bin holds more spikes than its repeat: at most 255 per repeat fits uint8 exactly
            small = compact and (not raw.counts.size or int(raw.counts.max()) <= 255)
            dtype = np.uint8 if small else np.float32
            return histogram_repeats(raw.values, raw.counts, self.start(s_n_bins), self.dt, T, dtype), reps
        data = raw.values.reshape(total, int(s_n_bins))
        if compact and self.k == 1 and data.dtype == np.uint8:
            return np.ascontiguousarray(data), reps
        if self.k != 1:
            if self.response_kind == L.RESPONSE_CONTINUOUS:
                data = pool_time(data.astype(np.float64), self.k, "nanmean")
            else:
                data = pool_time(data.astype(np.int64), self.k, "sum")
        exact32 = data.dtype.kind not in "iu" or not data.size or int(data.max()) <= 2**24
        return np.ascontiguousarray(data, dtype=np.float32 if exact32 else np.float64), reps

    # ------------------------------------------------------------- stimuli
    @property
    def needs_waveform(self) -> bool:
        """True when spectrograms must be recomputed from the kept waveform.

        That is when ``dt`` is not a multiple of the file's, or when
        spectrogram parameters other than the stored ones were asked for.
        """
        return self.stim_kind == L.STIM_SPECTROGRAM and (self.k is None or bool(self.spectrogram) or self.recompute)

    def stimulus(self, a: np.ndarray, s_n_bins: int, waveform=None, transform=None, what: str = "") -> np.ndarray:
        """A stored stimulus on this grid; waveforms as stored.

        Returned as float32, or float64 where a finite value lies beyond
        float32's range (SPEC 1.1 §5.2: never squashed to inf).

        Parameters
        ----------
        a : numpy.ndarray or None
            The stimulus as stored (None allowed when :attr:`needs_waveform`:
            it is recomputed, not read).
        s_n_bins : int
            Its response length in the file's bins.
        waveform : (numpy.ndarray, float), optional
            The kept source waveform and its sample rate; needed (only) when
            :attr:`needs_waveform`.
        transform : dict, optional
            The file's ``/stimuli@transform`` record (same condition).
        what : str
            Names the stimulus in messages.
        """
        if self.needs_waveform:
            frames = recompute_spectrogram(waveform, transform, self, what)
            return self._placed(frames, s_n_bins)
        a = np.asarray(a)
        if self.stim_kind == L.STIM_WAVEFORM or self.is_identity:
            return _present(a)
        if self.k is not None:
            frames = pool_time(a.astype(np.float64), self.k, "mean") if self.k > 1 else a
        elif self.stim_kind == L.STIM_VIDEO and self.m is not None:
            frames = repeat_time(a, self.m)
        elif self.stim_kind == L.STIM_VIDEO:
            raise BinningError(
                f"{self.path}: video frames are stored every {self.file_dt:g} ms; dt_ms={self.dt:g} is neither "
                f"an integer multiple nor an integer fraction of it, so frames cannot be pooled or repeated"
            )
        else:  # pragma: no cover - needs_waveform covers spectrograms at other widths
            raise BinningError(f"{self.path}: stimulus {what} cannot be read at dt_ms={self.dt:g}")
        return self._placed(frames, s_n_bins)

    def _placed(self, frames, s_n_bins: int) -> np.ndarray:
        """Frames (starting at onset) placed on this grid's response window."""
        T = self.n_bins(s_n_bins)
        start = self.start(s_n_bins)
        off = start / self.dt
        offset = int(round(off))
        if abs(off - offset) > 1e-6:
            raise BinningError(
                f"{self.path}: window start {start:g} ms is not a multiple of dt_ms={self.dt:g}; stimulus "
                "frames could not be aligned with the response bins"
            )
        return _present(place_in_window(np.asarray(frames), offset, T))


_F32_MAX = float(np.finfo(np.float32).max)


def _present(a: np.ndarray) -> np.ndarray:
    """``a`` as float32, unless a finite value lies beyond float32's range: then float64 (SPEC 1.1 §5.2)."""
    if a.dtype.itemsize > 4 and a.size:
        with np.errstate(invalid="ignore"):
            big = np.nanmax(np.abs(a[np.isfinite(a)])) if np.isfinite(a).any() else 0.0
        if big > _F32_MAX:
            return a.astype(np.float64, copy=False)
    return a.astype(np.float32, copy=False)


def _recompute_reason(grid: ReadGrid) -> str:
    if grid.spectrogram:
        asked = ", ".join(f"{load_argument(f)}={v!r}" for f, v in grid.spectrogram)
        return (f"{grid.path}: spectrograms asked for with {asked} (the file stores others) are recomputed from "
                f"the stimulus waveforms")
    return (f"{grid.path}: spectrograms are stored at dt_ms={grid.file_dt:g}; reading at dt_ms={grid.dt:g} "
            f"(not an integer multiple) needs the stimulus waveform to recompute them")


def load_argument(field: str) -> str:
    """The ``load`` argument that sets field ``field`` of the stored transform."""
    return next(a for a, f in SPECTROGRAM_ARGUMENTS.items() if f == field)


def recompute_spectrogram(waveform, transform, grid: ReadGrid, what: str = "") -> np.ndarray:
    """Recompute a spectrogram at ``grid.dt`` from its kept waveform (SPEC §5.3).

    Uses :func:`strfh5.spectrogram.compute_spectrogram` with the file's
    ``/stimuli@transform`` record, the fields of ``grid.spectrogram``
    replaced and ``hop_ms`` set to ``grid.dt``; frames then go through the
    same window placement as pooled frames.

    Raises
    ------
    BinningError
        No waveform is stored for the stimulus (the message names the way
        out: ``--keep-waveform``), or no recomputable transform.
    """
    why = _recompute_reason(grid)
    if waveform is None:
        way = (f"To recompute them, {KEEP_WAVEFORM_HINT}" if grid.spectrogram else
               f"Read at an integer multiple of {grid.file_dt:g} ms, or {KEEP_WAVEFORM_HINT}")
        raise BinningError(f"{why}, but stimulus {what} has no stored waveform. {way}")
    if not transform:
        raise BinningError(f"{why}, but the file stores no /stimuli@transform parameters to recompute them with")
    wave, sr = waveform
    record = {**dict(transform), **dict(grid.spectrogram), "hop_ms": float(grid.dt)}
    try:
        out = compute_spectrogram(np.asarray(wave), float(sr), record)
    except SpectrogramError as e:
        raise BinningError(f"{why}, but the stored transform cannot be recomputed: {e}") from None
    out = np.asarray(out, dtype=np.float64)
    return out[None] if out.ndim == 2 else out


def spectrogram_changes(info: FileInfo, requested: dict | None, where: str = "<memory>") -> tuple:
    """The fields of the stored transform that spectrogram arguments of ``load`` change.

    Parameters
    ----------
    info : FileInfo
        The file (its ``stim_kind`` and ``transform``).
    requested : dict or None
        ``{load argument: value}`` with keys from :data:`SPECTROGRAM_ARGUMENTS`;
        None values mean "as stored".

    Returns
    -------
    tuple of (field, value)
        Sorted pairs that differ from the stored record (empty: read the
        stored spectrograms).

    Raises
    ------
    BinningError
        Spectrogram arguments on a file without spectrogram stimuli, or whose
        transform was not made by the recipe of :mod:`strfh5.spectrogram`.
    SpectrogramError
        A value the recipe refuses (e.g. ``n_bands=0``, ``f_max`` above the
        Nyquist frequency of the stored sounds).
    """
    given = {a: v for a, v in (requested or {}).items() if v is not None}
    unknown = sorted(set(given) - set(SPECTROGRAM_ARGUMENTS))
    if unknown:  # pragma: no cover - load's signature names them
        raise BinningError(f"{where}: unknown spectrogram argument(s) {unknown}; valid: {list(SPECTROGRAM_ARGUMENTS)}")
    if not given:
        return ()
    args = ", ".join(f"{a}={v!r}" for a, v in given.items())
    if info.stim_kind != L.STIM_SPECTROGRAM:
        raise BinningError(f"{where}: {args} apply to spectrogram stimuli; this file's stimuli are {info.stim_kind}")
    stored = info.transform or {}
    try:
        base = params_from_transform(stored)
    except SpectrogramError as e:
        raise BinningError(f"{where}: cannot recompute spectrograms with {args}: {e}") from None
    fields = {SPECTROGRAM_ARGUMENTS[a]: v for a, v in given.items()}
    for name, cast in (("n_bands", int), ("f_min", float), ("f_max", float), ("window_ms", float)):
        if name in fields:
            v = fields[name]
            if isinstance(v, (str, bool)) or not isinstance(v, (int, float, np.integer, np.floating)):
                raise SpectrogramError(f"{where}: {load_argument(name)} must be a number, got {v!r}")
            if name == "n_bands" and int(v) != v:
                raise SpectrogramError(f"{where}: n_bands must be a positive integer, got {v!r}")
            fields[name] = cast(v)
    new = params_from_transform(stored, **fields)  # validates the combination
    if "sample_rate" in stored:
        new.resolved_f_max(float(stored["sample_rate"]))
    changed = {f: v for f, v in fields.items() if getattr(base, f) != v}
    return tuple(sorted(changed.items()))


def spectrogram_record(info: FileInfo, grid: ReadGrid) -> dict:
    """The ``stimuli@transform`` record of the spectrograms ``grid`` recomputes (for ``ds.transforms``)."""
    stored = dict(info.transform or {})
    p = params_from_transform(stored, **dict(grid.spectrogram), hop_ms=float(grid.dt))
    rec = transform_dict(p, float(stored["sample_rate"])) if "sample_rate" in stored else dict(stored)
    notes = {k: v for k, v in (stored.get("params") or {}).items() if k not in rec.get("params", {})}
    if notes:
        rec["params"] = {**rec.get("params", {}), **notes}
    return rec


def plan(info: FileInfo, dt_ms=None, window_ms=None, where: str = "<memory>", spectrogram=None) -> ReadGrid:
    """Check a requested bin width / window against a file; return the :class:`ReadGrid`.

    ``spectrogram`` is ``{load argument: value}`` (see
    :func:`spectrogram_changes`).

    Raises
    ------
    BinningError
        ``dt_ms`` not a positive number, a binned file read at a non-multiple
        of its dt, a window on a binned file, or a malformed window;
        spectrogram arguments the file cannot be read with.
    """
    file_dt = float(info.dt_ms)
    dt = file_dt if dt_ms is None else positive_number(dt_ms, "dt_ms", BinningError, where=where)
    k = _int_ratio(dt, file_dt)
    m = _int_ratio(file_dt, dt)
    if k == 1:
        dt = file_dt
    window = None
    if window_ms is not None:
        try:
            start, stop = window_ms
            start = float(start)
            stop = None if stop is None else float(stop)
        except (TypeError, ValueError):
            raise BinningError(
                f"{where}: window_ms must be (start, stop) in ms from stimulus onset (stop may be None for the "
                f"stimulus end), got {window_ms!r}"
            ) from None
        if not math.isfinite(start) or (stop is not None and (not math.isfinite(stop) or stop <= start)):
            raise BinningError(f"{where}: window_ms={window_ms!r} must satisfy start < stop (finite ms)")
        window = (start, stop)
    if info.encoding == L.ENCODING_BINNED:
        if k is None:
            raise BinningError(
                f"{where}: a binned file can only be read at an integer multiple of its dt_ms={file_dt:g} "
                f"(e.g. {file_dt:g}, {2 * file_dt:g}, {3 * file_dt:g}); dt_ms={dt:g} is "
                f"{dt / file_dt:.4g} times it. Only events (spike-time) files can be binned at any width"
            )
        if window is not None:
            raise BinningError(
                f"{where}: window_ms applies to events (spike-time) files only; a binned file stores only "
                f"the stimulus window [0, n_bins x {file_dt:g} ms)"
            )
    return ReadGrid(
        file_dt=file_dt,
        dt=dt,
        encoding=info.encoding,
        response_kind=info.response_kind,
        stim_kind=info.stim_kind,
        window=window,
        k=k,
        m=m,
        path=where,
        spectrogram=spectrogram_changes(info, spectrogram, where),
    )


def read_records(grid: ReadGrid, info: FileInfo) -> list[dict]:
    """The transform records of reading ``info``'s file on ``grid``: ``bin`` and ``spectrogram`` when they apply."""
    records = []
    if not (grid.k == 1 and grid.window is None):
        records.append({"name": "bin", "dt_ms": grid.dt, "window_ms": None if grid.window is None
                        else tuple(grid.window)})
    if grid.spectrogram:
        records.append({"name": "spectrogram", "recomputed_from": "waveform",
                        **{load_argument(f): v for f, v in grid.spectrogram},
                        "transform": spectrogram_record(info, grid)})
    return records


def max_row_values() -> int:
    """The most values one row (or one stimulus) may hold once read: ``STRFH5_MAX_ROW_VALUES``, default 2**31.

    A file can declare sizes (or a bin width can imply them) that would need
    far more memory than any recording; reading refuses them before
    allocating.  Raise the limit with the environment variable when a real
    dataset needs it.
    """
    text = os.environ.get("STRFH5_MAX_ROW_VALUES", "")
    return int(text) if text.isdigit() and int(text) > 0 else 2**31


def check_read_size(grid: ReadGrid, file_n_bins, repeats, stim_ids, stim_dims, max_repeat: int | None = None,
                    n_neurons: int | None = None) -> np.ndarray:
    """The bins ``T_s`` of each stimulus on ``grid``, refused when empty or when a row would be too large.

    ``repeats`` is the ``(S, N)`` table or a function returning it; with
    ``max_repeat`` (an upper bound of every repeat count) and ``n_neurons``
    it is read only when that bound leaves some row near the limit.
    ``stim_ids`` (the ids, or a function returning them) name a refused stimulus.

    Raises
    ------
    BinningError
        A stimulus shorter than one bin, or a row (``sum of repeats x T``) or
        a stimulus (``frames x T``) over :func:`max_row_values`, in exact
        integer arithmetic.
    """
    T = grid.n_bins_all(file_n_bins)
    bad = np.flatnonzero(T < 0)  # T = 0 is a valid read (SPEC 1.1 §11.1): (R, 0) responses, an empty stimulus
    if bad.size:
        raise BinningError(
            f"{grid.path}: reading at dt_ms={grid.dt:g} leaves stimulus {int(bad[0])} "
            f"({_ids(stim_ids)[int(bad[0])]!r}) with no response bin (stimulus shorter than one bin)")
    limit = max_row_values()
    per_frame = math.prod(int(d) for d in stim_dims[:-1]) if grid.stim_kind != L.STIM_WAVEFORM else 0
    if not T.size:
        return T
    rep = None
    if max_repeat is None or n_neurons is None:
        rep = np.asarray(repeats() if callable(repeats) else repeats)
        max_repeat, n_neurons = (int(rep.max()) if rep.size else 0), (rep.shape[1] if rep.ndim == 2 else 0)
    if max(int(max_repeat) * int(n_neurons), per_frame) * int(T.max()) <= limit:
        return T  # a bound over every row (largest repeat x N, longest T) is within the limit: no row sums needed
    if rep is None:
        rep = np.asarray(repeats() if callable(repeats) else repeats)
    reps = rep.sum(axis=1, dtype=np.int64) if rep.size else np.zeros(T.size, np.int64)
    # float estimate first (relative error < 1e-15), exact integer check only where it comes near the limit
    est = np.maximum(reps, per_frame).astype(np.float64) * T
    for s in np.flatnonzero(est > 0.5 * limit).tolist():
        values = max(int(reps[s]), per_frame) * int(T[s])
        if values > limit:
            raise BinningError(
                f"{grid.path}: reading stimulus {s} ({_ids(stim_ids)[s]!r}) at dt_ms={grid.dt:g} gives {int(T[s])} bins, "
                f"{values} values in one row, over the limit of {limit} (set STRFH5_MAX_ROW_VALUES to read it)")
    return T


def _ids(stim_ids):
    return stim_ids() if callable(stim_ids) else stim_ids
