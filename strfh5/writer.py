"""Writing strfh5 files: the streaming writer and :func:`save`.

:class:`StreamWriter` is what converters use: neurons are declared up front,
then stimuli are added and response rows written one stimulus at a time, so
memory stays bounded by one row whatever the size of the dataset.  It writes to
a temporary file in the target folder and renames it into place only when
everything — data, tables, metadata, digests — has been written and checked
(SPEC §10).

Integer data (binned counts, per-repeat spike counts) are stored in the
smallest unsigned type that holds the largest value (SPEC §4).  When the caller
does not know that type in advance (``count_dtype=None``), rows are spooled to
a scratch HDF5 file next to the output and copied row by row into the final
file at :meth:`StreamWriter.close`, with the type chosen from the largest value
seen — memory stays bounded by one row.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import uuid as _uuid
from typing import Sequence

import h5py
import numpy as np

from . import layout as L
from . import schema as _schema
from .arguments import as_numpy, positive_number
from .flushing import BackgroundSync
from .elements import check_id_text, check_unique_ids, normalize_binned, normalize_events
from .errors import DuplicateIdError, InvalidDataError, MetadataError
from .records import RawRow
from .leftovers import clean_leftovers
from .index_writer import add_index
from .vlen_sink import VlenSink
from .version import __version__

__all__ = ["StreamWriter", "add_index", "compact_waveform", "write_root_attrs"]

_STR = h5py.string_dtype("utf-8")
#: deflate level of kept waveforms (when the writer's is higher): float audio deflates to 83-84% of its
#: size at any level (NS1: 83.8% at level 1, 82.9% at level 4) and level 1 takes half the time of level 4
WAVEFORM_GZIP_LEVEL = 1


# -------------------------------------------------------------- stream writer
class StreamWriter:
    """Write a strfh5 file one stimulus at a time with bounded memory.

    Parameters
    ----------
    path : str or os.PathLike
        Output file (conventionally ``*.strf.h5``).
    encoding : {'events', 'binned'}
    dt_ms : float
        The file's bin width in ms (for ``events``: the default bin width and
        the stimulus frame hop).
    stim_kind : {'spectrogram', 'waveform', 'video'}
    stim_dims : tuple of int
        Non-time axes of every stimulus array, channel axis first: ``(C, F)``
        for spectrograms, ``(C,)`` for waveforms, ``(C, H, W)`` for video.
    neuron_ids : sequence of str
        Stable, unique neuron ids (defaults to positions when None and
        ``n_neurons`` is given).
    nrn_meta : sequence of dict, optional
    file_meta : dict, optional
        File-level metadata; ``source`` defaults to ``source`` or ``'user'``.
    source : str, optional
        Source id whose shipped schemas (``schema/sources/<source>/``) the
        metadata must satisfy; the core schemas otherwise.
    schemas : dict, optional
        Explicit ``{"file", "stimulus", "neuron"}`` schema ids (overrides ``source``).
    response_kind : {'spike_times', 'counts', 'continuous'}, optional
        Defaults to ``spike_times`` for events and ``counts`` for binned.
    transform : dict, optional
        Stimulus transform parameters (SPEC §5.3), validated against the core
        transform schema.
    count_dtype : numpy dtype, optional
        Unsigned type for integer data when known in advance; by default the
        smallest type holding the largest value is chosen at close.
    time_dtype : {'float64', 'float32'}
        Type of stored spike times (events).
    overwrite : bool
        Replace an existing ``path``.
    allow_duplicate_ids : bool
        Accept a stimulus or neuron id that repeats (only for copies of
        concatenations, whose ids are unique per source block, SPEC §9).
    index : bool
        Write the response byte-range index (``/index``, SPEC §7.2) after the data, so lazy reads need no HDF5 per row.
    """

    def __init__(
        self,
        path,
        *,
        encoding: str,
        dt_ms: float,
        stim_kind: str,
        stim_dims: Sequence[int],
        neuron_ids: Sequence[str] | None = None,
        n_neurons: int | None = None,
        nrn_meta: Sequence[dict] | None = None,
        file_meta: dict | None = None,
        source: str | None = None,
        schemas: dict | None = None,
        response_kind: str | None = None,
        transform: dict | None = None,
        count_dtype=None,
        time_dtype="float64",
        overwrite: bool = False,
        compression: str | None = "gzip",
        compression_opts: int | None = 4,
        allow_duplicate_ids: bool = False,
        index: bool = True,
    ):
        self.path = os.fspath(path)
        self.index = bool(index)
        response_kind, stim_dims, time_dtype = _check_kinds(encoding, stim_kind, stim_dims, response_kind, time_dtype)
        dt_ms = positive_number(dt_ms, "dt_ms")
        self._set_neurons(neuron_ids, n_neurons, nrn_meta, allow_duplicate_ids)
        self.schemas = dict(schemas) if schemas else _schema.source_schemas(source) if source else {
            k: _schema.CORE[k] for k in _schema.KINDS
        }
        for kind in _schema.KINDS:
            _schema.get_schema(self.schemas[kind])  # SchemaNotFoundError early
        file_meta = dict(file_meta or {})
        file_meta.setdefault("source", source or "user")
        self.file_meta_json = self._meta_json(file_meta, "file", "file metadata")
        self.nrn_meta_json = [self._meta_json(m, "neuron", f"neuron {i} ({self.neuron_ids[i]!r}) metadata")
                              for i, m in enumerate(self._nrn_meta)]
        self.transform_json = None
        if transform is not None:
            self.transform_json = _schema.dumps(transform, "stimulus transform")
            _schema.validate_record(transform, _schema.CORE["transform"], "stimulus transform")
        self.encoding, self.dt_ms, self.stim_kind = encoding, dt_ms, stim_kind
        self.stim_dims, self.response_kind, self.time_dtype = stim_dims, response_kind, time_dtype
        self.compression, self.compression_opts = compression, compression_opts
        self.stim_ids: list[str] = []
        self.stim_meta_json: list[str] = []
        self.n_bins: list[int] = []
        self._repeats: list[np.ndarray] = []
        self._stim_ids_set: set[str] = set()
        self._closed = False
        self._open_output(overwrite, count_dtype)

    def _set_neurons(self, neuron_ids, n_neurons, nrn_meta, allow_duplicate_ids: bool) -> None:
        if neuron_ids is None:
            if n_neurons is None:
                n_neurons = len(nrn_meta) if nrn_meta is not None else 0
            neuron_ids = [str(i) for i in range(n_neurons)]
        self.neuron_ids = [str(x) for x in neuron_ids]
        self.N = len(self.neuron_ids)
        self.allow_duplicate_ids = bool(allow_duplicate_ids)
        if not self.allow_duplicate_ids:
            check_unique_ids(self.neuron_ids, "neuron")
        self._nrn_meta = [{} for _ in range(self.N)] if nrn_meta is None else nrn_meta
        if len(self._nrn_meta) != self.N:
            raise InvalidDataError(f"nrn_meta has {len(self._nrn_meta)} records for {self.N} neuron ids")

    def _open_output(self, overwrite: bool, count_dtype) -> None:
        """The temporary output beside ``path`` and its response sinks (leftovers of an interrupted write cleaned)."""
        folder = os.path.dirname(os.path.abspath(self.path))
        if not os.path.isdir(folder):
            raise FileNotFoundError(f"{self.path}: folder {folder} does not exist")
        if os.path.exists(self.path) and not overwrite:
            raise FileExistsError(f"{self.path} exists (pass overwrite=True to replace it)")
        clean_leftovers(folder, os.path.basename(self.path))  # what an interrupted write to this path left
        token = _uuid.uuid4().hex[:12]
        self.tmp_path = f"{self.path}.tmp-{token}"
        self.uuid = str(_uuid.uuid4())
        self._f = h5py.File(self.tmp_path, "w")
        self._sync = BackgroundSync(self.tmp_path)
        self._f.create_group(L.STIMULI)
        try:
            if self.encoding == L.ENCODING_EVENTS:
                self._resp = VlenSink(self._f, L.RESPONSES, self.N, self.time_dtype, "")
                self._counts = VlenSink(self._f, L.COUNTS, self.N, count_dtype,
                                        f"{self.path}.scratch-counts-{token}")
            else:
                self._counts = None
                continuous = self.response_kind == L.RESPONSE_CONTINUOUS
                dtype = L.CONTINUOUS_DTYPE if continuous else count_dtype
                self._resp = VlenSink(self._f, L.RESPONSES, self.N, dtype, f"{self.path}.scratch-resp-{token}")
        except BaseException:
            self.abort()
            raise

    # ------------------------------------------------------------ helpers
    def _meta_json(self, meta, kind: str, where: str) -> str:
        if not isinstance(meta, dict):
            raise MetadataError(f"{where} must be a dict, got {type(meta).__name__}")
        text = _schema.dumps(meta, where)
        _schema.validate_record(json.loads(text), self.schemas[kind], where)
        return text

    @property
    def S(self) -> int:
        return len(self.stim_ids)

    def _check_open(self):
        if self._closed:
            raise InvalidDataError(f"{self.path}: the writer is closed")

    # ------------------------------------------------------------ stimuli
    def add_stimulus(
        self,
        data,
        *,
        id: str | None = None,
        meta: dict | None = None,
        n_bins: int | None = None,
        waveform=None,
        sample_rate: float | None = None,
    ) -> int:
        """Add stimulus data (time on the last axis); return its index.

        ``n_bins`` (the response length in bins of ``dt_ms``) defaults to the
        stimulus' time axis for spectrograms and video and is required for
        waveform stimuli. ``waveform``/``sample_rate`` optionally keep the
        source waveform beside a spectrogram.
        """
        self._check_open()
        s = self.S
        where = f"stimulus {s}" + (f" ({id!r})" if id is not None else "")
        a = as_numpy(data)
        ndim = L.STIM_KIND_NDIM[self.stim_kind]
        if a.ndim == ndim - 1:
            a = a[None]
        if a.ndim != ndim or tuple(a.shape[:-1]) != self.stim_dims:
            raise InvalidDataError(
                f"{where}: shape {a.shape} does not fit stim_kind {self.stim_kind!r} with stim_dims "
                f"{self.stim_dims} (expected {self.stim_dims + ('T',)})"
            )
        if a.dtype.kind not in "fiu":
            raise InvalidDataError(f"{where}: stimulus must be numeric, got dtype {a.dtype}")
        if a.dtype.newbyteorder("<") not in L.STIM_DTYPES:
            a = a.astype(np.float32)
        a = a.astype(a.dtype.newbyteorder("<"), copy=False)
        if not np.all(np.isfinite(a)):
            raise InvalidDataError(f"{where}: stimulus contains NaN or Inf")
        T = a.shape[-1]
        if self.stim_kind == L.STIM_WAVEFORM:
            if n_bins is None:
                raise InvalidDataError(f"{where}: waveform stimuli need n_bins (response length in bins)")
            if sample_rate is None or not np.isfinite(sample_rate) or sample_rate <= 0:
                raise InvalidDataError(f"{where}: waveform stimuli need a positive sample_rate")
        elif n_bins is None:
            n_bins = T
        elif int(n_bins) != T:
            raise InvalidDataError(
                f"{where}: n_bins = {n_bins} differs from the stimulus' {T} time frames "
                f"({self.stim_kind} stimuli share the response time axis)"
            )
        n_bins = int(n_bins)
        if n_bins < 0:
            raise InvalidDataError(f"{where}: n_bins must be >= 0, got {n_bins}")
        sid = str(id) if id is not None else str(s)
        check_id_text(sid, "stimulus", f"{where}: ")
        if sid in self._stim_ids_set and not self.allow_duplicate_ids:
            raise DuplicateIdError(f"{where}: stimulus id {sid!r} is already used by stimulus {self.stim_ids.index(sid)}")
        meta_json = self._meta_json(dict(meta or {}), "stimulus", f"{where} metadata")
        g = self._f.create_group(L.stim_group_path(s))
        self._create_array(g, L.STIM_DATA, a)
        if self.stim_kind == L.STIM_WAVEFORM:
            g[L.STIM_DATA].attrs[L.ATTR_SAMPLE_RATE] = float(sample_rate)
        elif waveform is not None:
            w = as_numpy(waveform)
            if w.ndim == 1:
                w = w[None]
            if w.ndim != 2 or w.dtype.kind not in "fiu":
                raise InvalidDataError(f"{where}: waveform must be a numeric (C, T_audio) array, got {w.shape}")
            if w.dtype.kind != "f":
                w = w.astype(np.float32)
            if not np.all(np.isfinite(w)):
                raise InvalidDataError(f"{where}: waveform contains NaN or Inf")
            if sample_rate is None or not np.isfinite(sample_rate) or sample_rate <= 0:
                raise InvalidDataError(f"{where}: a kept waveform needs a positive sample_rate")
            stored, scale = compact_waveform(w)
            self._create_array(g, L.STIM_WAVEFORM_DS, stored, level=WAVEFORM_GZIP_LEVEL)
            g[L.STIM_WAVEFORM_DS].attrs[L.ATTR_SAMPLE_RATE] = float(sample_rate)
            if scale is not None:
                g[L.STIM_WAVEFORM_DS].attrs[L.ATTR_WAVEFORM_SCALE] = float(scale)
        self.stim_ids.append(sid)
        self._stim_ids_set.add(sid)
        self.stim_meta_json.append(meta_json)
        self.n_bins.append(n_bins)
        self._repeats.append(np.zeros(self.N, dtype=np.int64))
        self._resp.resize(self.S)
        if self._counts is not None:
            self._counts.resize(self.S)
        return s

    def _create_array(self, g, name, a, level: int | None = None):
        kw = {}
        if a.size:
            opts = self.compression_opts
            if level is not None and self.compression == "gzip" and opts is not None:
                opts = min(opts, level)
            kw = dict(chunks=True, compression=self.compression, compression_opts=opts,
                      shuffle=True, fletcher32=True)
            if self.compression is None:
                kw.pop("compression_opts")
        g.create_dataset(name, data=a, **kw)

    # ------------------------------------------------------------ responses
    def _element(self, s: int, n: int, value):
        where = f"{self.path}: response [{s}, {n}] (stimulus {self.stim_ids[s]!r}, neuron {self.neuron_ids[n]!r})"
        if self.encoding == L.ENCODING_EVENTS:
            return normalize_events(value, self.time_dtype, where)
        return normalize_binned(value, self.n_bins[s], self.response_kind, where)

    def _check_stim(self, s: int):
        self._check_open()
        if not 0 <= s < self.S:
            raise InvalidDataError(f"stimulus index {s} out of range: {self.S} stimuli added so far")

    def write_row(self, s: int, row: Sequence) -> None:
        """Write the responses of all neurons to stimulus ``s``.

        ``row[n]`` is None (not recorded); for binned files an ``(R, T)``
        array; for events files a list of R per-repeat 1-D arrays of spike
        times in ms from stimulus onset (or an :class:`Events`). ``row`` may
        also be a whole :class:`~strfh5.records.RawRow` (what
        ``Contents.raw_row`` returns): checked and written with whole-row
        operations, the same file content.
        """
        self._check_stim(s)
        if isinstance(row, RawRow):
            return self._write_raw(s, row)
        if len(row) != self.N:
            raise InvalidDataError(f"stimulus {s}: row has {len(row)} elements for {self.N} neurons")
        els = [self._element(s, n, v) for n, v in enumerate(row)]
        rep = np.zeros(self.N, dtype=np.int64)
        if self.encoding == L.ENCODING_EVENTS:
            empty_t = np.empty(0, self.time_dtype)
            times = [e.times if e is not None else empty_t for e in els]
            counts = [e.counts if e is not None else np.empty(0, np.int64) for e in els]
            for n, e in enumerate(els):
                rep[n] = 0 if e is None else e.n_repeats
            self._resp.write_row(s, times, f"/{L.RESPONSES}")
            self._counts.write_row(s, counts, f"/{L.COUNTS}")
        else:
            flat = []
            for n, e in enumerate(els):
                rep[n] = 0 if e is None else e.shape[0]
                flat.append(np.empty(0, np.int64) if e is None else e.reshape(-1))
            self._resp.write_row(s, flat, f"/{L.RESPONSES}")
        self._repeats[s] = rep
        self._sync.poke(sum(a.nbytes for a in (times if self.encoding == L.ENCODING_EVENTS else flat)))

    def _write_raw(self, s: int, raw: RawRow) -> None:
        """A row given flat (:class:`RawRow`), checked as :meth:`_element` checks each element, written whole."""
        reps = np.asarray(raw.reps, dtype=np.int64).reshape(-1)
        where = f"{self.path}: response row {s} (stimulus {self.stim_ids[s]!r})"
        if reps.size != self.N or (reps < 0).any():
            raise InvalidDataError(f"{where}: {reps.size} repeat counts (>= 0) for {self.N} neurons")
        values = np.asarray(raw.values).reshape(-1)
        known = raw.digests if isinstance(raw.digests, dict) else {}  # digests the read computed over these values
        if values.dtype.kind not in "fiub":
            raise InvalidDataError(f"{where}: values must be numeric, got dtype {values.dtype}")
        if self.encoding == L.ENCODING_EVENTS:
            counts = np.asarray(raw.counts if raw.counts is not None else [], dtype=np.int64).reshape(-1)
            if counts.size != int(reps.sum()) or (counts < 0).any() or int(counts.sum()) != values.size:
                raise InvalidDataError(f"{where}: per-repeat counts do not match the repeats and spike times")
            if values.size and not np.isfinite(values).all():
                raise InvalidDataError(f"{where}: spike times must be finite, found NaN or Inf")
            ends = np.concatenate([[0], np.cumsum(counts)])[np.cumsum(reps)]
            self._resp.write_flat(s, values.astype(self.time_dtype, copy=False), np.diff(ends, prepend=0),
                                  f"/{L.RESPONSES}", known.get(L.RESPONSES))
            self._counts.write_flat(s, counts, reps, f"/{L.COUNTS}", known.get(L.COUNTS))
        else:
            lengths = reps * self.n_bins[s]
            if int(lengths.sum()) != values.size:
                raise InvalidDataError(f"{where}: {values.size} values for repeats x n_bins = {int(lengths.sum())}")
            self._resp.write_flat(s, self._binned_values(values, where), lengths, f"/{L.RESPONSES}",
                                  known.get(L.RESPONSES))
        self._repeats[s] = reps
        self._sync.poke(values.nbytes)

    def _binned_values(self, values: np.ndarray, where: str) -> np.ndarray:
        """The checks of :func:`~strfh5.elements.normalize_binned` on a whole row."""
        if self.response_kind == L.RESPONSE_CONTINUOUS:
            return values.astype(L.CONTINUOUS_DTYPE, copy=False)
        if values.dtype.kind in "ub":
            return values
        if values.size and values.min() < 0:
            raise InvalidDataError(f"{where}: spike counts must be non-negative, found {values.min()}")
        if values.dtype.kind == "f":
            if not np.all(np.isfinite(values)) or not np.array_equal(values, np.floor(values)):
                raise InvalidDataError(f"{where}: spike counts must be finite integers")
            return values.astype(np.int64)
        return values

    def write_pair(self, s: int, n: int, value) -> None:
        """Write one (stimulus, neuron) element (slower than :meth:`write_row`)."""
        self._check_stim(s)
        if not 0 <= n < self.N:
            raise InvalidDataError(f"neuron index {n} out of range for {self.N} neurons")
        e = self._element(s, n, value)
        if self.encoding == L.ENCODING_EVENTS:
            self._resp.write_pair(s, n, e.times if e is not None else np.empty(0, self.time_dtype), f"/{L.RESPONSES}")
            self._counts.write_pair(s, n, e.counts if e is not None else np.empty(0, np.int64), f"/{L.COUNTS}")
            self._repeats[s][n] = 0 if e is None else e.n_repeats
        else:
            self._resp.write_pair(s, n, np.empty(0, np.int64) if e is None else e.reshape(-1), f"/{L.RESPONSES}")
            self._repeats[s][n] = 0 if e is None else e.shape[0]

    def set_file_meta(self, meta: dict) -> None:
        """Replace the file-level metadata before closing."""
        self._check_open()
        meta = dict(meta)
        meta.setdefault("source", "user")
        self.file_meta_json = self._meta_json(meta, "file", "file metadata")

    # ------------------------------------------------------------ finish
    def close(self) -> str:
        """Write tables, digests and attributes; rename into place. Returns the path."""
        if self._closed:
            return self.path
        try:
            self._finish()
        except BaseException:
            self.abort()
            raise
        self._closed = True
        return self.path

    def _finish(self):
        f, S, N = self._f, self.S, self.N
        self._resp.finish(S)
        if self._counts is not None:
            self._counts.finish(S)
        rep = np.vstack(self._repeats) if S else np.zeros((0, N), dtype=np.int64)
        rdt = L.repeats_dtype(int(rep.max()) if rep.size else 0)
        kw = dict(chunks=True, compression="gzip", shuffle=True) if rep.size else {}
        f.create_dataset(L.REPEATS, data=rep.astype(rdt), fillvalue=0, **kw)
        stim = f[L.STIMULI]
        stim.create_dataset("ids", data=np.array(self.stim_ids, dtype=object), dtype=_STR)
        stim.create_dataset("metadata", data=np.array(self.stim_meta_json, dtype=object), dtype=_STR)
        stim.create_dataset("n_bins", data=np.asarray(self.n_bins, dtype="<u4").reshape(-1))
        stim.attrs[L.ATTR_COUNT] = np.int64(S)
        if self.transform_json is not None:
            stim.attrs[L.ATTR_TRANSFORM] = self.transform_json
        neu = f.create_group(L.NEURONS)
        neu.create_dataset("ids", data=np.array(self.neuron_ids, dtype=object), dtype=_STR)
        neu.create_dataset("metadata", data=np.array(self.nrn_meta_json, dtype=object), dtype=_STR)
        f.create_dataset(L.METADATA, data=self.file_meta_json, dtype=_STR)
        write_root_attrs(
            f,
            uuid=self.uuid,
            encoding=self.encoding,
            dt_ms=self.dt_ms,
            stim_kind=self.stim_kind,
            stim_dims=self.stim_dims,
            response_kind=self.response_kind,
            schemas=self.schemas,
        )
        f.flush()
        f.close()
        self._sync.close()
        if self.index:
            add_index(self.tmp_path)
        with open(self.tmp_path, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(self.tmp_path, self.path)

    def abort(self) -> None:
        """Discard everything written; no file is left at ``path``."""
        self._closed = True
        for sink in (getattr(self, "_resp", None), getattr(self, "_counts", None)):
            if sink is not None:
                sink.discard()
        if getattr(self, "_sync", None) is not None:
            self._sync.close()
        f = getattr(self, "_f", None)
        if f is not None:
            try:
                f.close()
            except Exception:  # pragma: no cover
                pass
        if os.path.exists(getattr(self, "tmp_path", "")):
            os.remove(self.tmp_path)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.close()
        else:
            self.abort()
        return False


def compact_waveform(w: np.ndarray) -> tuple[np.ndarray, float | None]:
    """A kept waveform as it is stored: int16 with its scale when that is lossless, else as given.

    A float waveform whose every sample is ``k / 32768`` for an integer ``k``
    in ``[-32768, 32767]`` (16-bit PCM read by ``read_wav``) is stored as the
    int16 ``k`` with ``scale = 1/32768`` (half the bytes of float32; see
    SPEC §5.2); readers return
    ``k * scale`` as float32, equal to the waveform given.  Any other
    waveform is stored as given (scale None).
    """
    if w.dtype.kind != "f" or not w.size:
        return w, None
    head = w.reshape(-1)[:4096].astype(np.float64) * 32768.0  # float audio fails here, before a full copy
    if not np.array_equal(head, np.round(head)):
        return w, None
    q = w.astype(np.float64) * 32768.0
    if q.min() < -32768 or q.max() > 32767 or not np.array_equal(q, np.round(q)):
        return w, None
    k = q.astype(L.WAVEFORM_INT_DTYPE)
    if not np.array_equal((k.astype(np.float32) * np.float32(L.WAVEFORM_INT16_SCALE)).astype(w.dtype), w):
        return w, None  # pragma: no cover - exact by construction for float32/float64 inputs
    return k, L.WAVEFORM_INT16_SCALE


def write_root_attrs(f: h5py.File, *, uuid, encoding, dt_ms, stim_kind, stim_dims, response_kind, schemas,
                     concatenated: bool = False) -> None:
    """Write the root attributes of SPEC §3 (shared with on-disk concatenation)."""
    a = f.attrs
    a[L.ATTR_FORMAT] = L.FORMAT_NAME
    a[L.ATTR_VERSION] = L.FORMAT_VERSION_STR
    a[L.ATTR_UUID] = str(uuid)
    a[L.ATTR_CREATED_BY] = f"strfh5 {__version__}"
    a[L.ATTR_CREATED_AT] = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    a[L.ATTR_ENCODING] = encoding
    a[L.ATTR_DT_MS] = np.float64(dt_ms)
    a[L.ATTR_MODALITY] = L.STIM_KIND_MODALITY[stim_kind]
    a[L.ATTR_STIM_KIND] = stim_kind
    a[L.ATTR_STIM_DIMS] = np.asarray(stim_dims, dtype=np.int64)
    a[L.ATTR_RESPONSE_KIND] = response_kind
    a[L.ATTR_SCHEMA_FILE] = schemas["file"]
    a[L.ATTR_SCHEMA_STIMULUS] = schemas["stimulus"]
    a[L.ATTR_SCHEMA_NEURON] = schemas["neuron"]
    if concatenated:
        a[L.ATTR_CONCATENATED] = np.bool_(True)


def _check_kinds(encoding: str, stim_kind: str, stim_dims, response_kind, time_dtype):
    """Checked (response_kind, stim_dims, time_dtype) of a new file; InvalidDataError naming the argument."""
    if encoding not in L.ENCODINGS:
        raise InvalidDataError(f"encoding {encoding!r} is not one of {L.ENCODINGS}")
    if stim_kind not in L.STIM_KINDS:
        raise InvalidDataError(f"stim_kind {stim_kind!r} is not one of {L.STIM_KINDS}")
    response_kind = response_kind or L.ENCODING_RESPONSE_KINDS[encoding][0]
    if response_kind not in L.ENCODING_RESPONSE_KINDS[encoding]:
        raise InvalidDataError(
            f"response_kind {response_kind!r} does not fit encoding {encoding!r} "
            f"(expected one of {L.ENCODING_RESPONSE_KINDS[encoding]})"
        )
    stim_dims = tuple(int(d) for d in stim_dims)
    if len(stim_dims) != L.STIM_KIND_NDIM[stim_kind] - 1 or any(d < 1 for d in stim_dims):
        raise InvalidDataError(
            f"stim_dims {stim_dims} do not fit stim_kind {stim_kind!r}: expected "
            f"{L.STIM_KIND_NDIM[stim_kind] - 1} positive sizes (channel axis first, time excluded)"
        )
    time_dtype = np.dtype(time_dtype).newbyteorder("<")
    if time_dtype not in L.EVENT_TIME_DTYPES:
        raise InvalidDataError(f"time_dtype must be float32 or float64, got {time_dtype}")
    return response_kind, stim_dims, time_dtype
