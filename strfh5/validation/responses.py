"""Checks of the response rows (SPEC.md §4, §12): codes E501–E507, W210, and row digests (§7).

Rows of ``/responses`` (and ``/counts``, ``/repeats``) are read one stimulus
at a time, so memory is bounded by one row.  Before a row is read, the element
lengths its VLEN descriptors claim are compared with the file size (SPEC.md
§12): HDF5 allocates whatever a descriptor claims before it finds the heap
reference broken, so a corrupt descriptor is reported (E507), not read.
Each row is then checked against the missing-data rule and the encoding's
invariants, and against its digests when ``checksums=True``. When every payload
can be located from the VLEN descriptors and the global heap (:func:`locate`,
the truth the ``/index`` check compares against), rows are read instead with
one ``pread`` of their span and checked with whole-row operations
(:func:`check_row_flat`): the same findings, no per-element objects.

Arithmetic on stored integers is exact (SPEC.md §12): a uint64 repeat count
above 2**63 - 1 or a product ``repeats x n_bins`` beyond int64 is computed
with Python integers, never wrapped, and per-repeat counts are summed without
wrap-around.  Big-endian VLEN elements, which h5py hands back as raw bytes
labelled native, are byte-swapped before any check or digest.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field

import h5py
import numpy as np

from .. import layout as L
from ..errors import CorruptDataError
from ..h5io.descriptors import locate_in_objects
from ..h5io.index import locate_payloads
from ..h5io.remote import file_size, is_url
from ..index_writer import locate_chained
from ..vlen_sink import flat_digest
from .context import Context
from .integrity import verify_row
from .values import all_finite
from ..h5io.checks import big_endian_vlen, exact_ints, native

__all__ = ["check_responses", "check_row", "check_row_flat", "locate", "claimed_lengths", "plausible_row",
           "big_endian_vlen", "native", "times",
           "exact_sum"]


@dataclass
class _Scan:
    """What the row checks of one file share: settings, and the largest values seen (for W210)."""

    enc: str
    rk: str | None
    verify: bool
    file_size: int
    sizeof_addr: int
    swap: dict = field(default_factory=dict)  # dataset name -> its VLEN elements come back byte-swapped
    stopped: bool = False  # /repeats could not be read: no further row is checked
    max_value: dict = field(default_factory=lambda: {L.RESPONSES: 0, L.COUNTS: 0, L.REPEATS: 0})


def check_responses(ctx: Context) -> None:
    """Every row under its own guard, then the smallest-type recommendation (W210)."""
    resp, rep, cnt = ctx.resp, ctx.rep, ctx.cnt
    enc = ctx.attrs_ok.get(L.ATTR_ENCODING)
    rk = ctx.attrs_ok.get(L.ATTR_RESPONSE_KIND)
    if resp is None or rep is None or ctx.S is None or ctx.N is None or enc is None:
        return
    if enc == L.ENCODING_EVENTS and cnt is None:
        return
    if enc == L.ENCODING_BINNED and (ctx.n_bins is None or rk is None):
        return
    if not all(ctx.data_readable(d) for d in (resp, rep) + ((cnt,) if cnt is not None else ())):
        return
    verify = ctx.checksums and bool(ctx.digests)
    scan = _Scan(enc, rk, verify, file_size(ctx.path), ctx.f.id.get_create_plist().get_sizes()[0])
    scan.swap = {name: big_endian_vlen(ds) for name, ds in ((L.RESPONSES, resp), (L.COUNTS, cnt)) if ds is not None}
    if verify:
        ctx.info["checksums_verified"] = sorted("/" + k for k in ctx.digests)
    flat = _FlatRows.open(ctx, enc)  # payloads located from the descriptors and heap: rows read by byte range
    try:
        for s in range(ctx.S):
            if scan.stopped:
                break
            if flat is not None:
                ctx.guard("responses", f"/{L.RESPONSES}[{s}]", check_row_flat, ctx, scan, s, flat)
            else:
                ctx.guard("responses", f"/{L.RESPONSES}[{s}]", check_row, ctx, scan, s)
    finally:
        if flat is not None:
            flat.close()
    # smallest-type recommendations
    for name, ds in ((L.REPEATS, rep), (L.COUNTS, cnt),
                     (L.RESPONSES, resp if rk == L.RESPONSE_COUNTS else None)):
        if ds is None:
            continue
        dt = h5py.check_vlen_dtype(ds.dtype) if name != L.REPEATS else ds.dtype
        best = L.smallest_uint(scan.max_value[name])
        if np.dtype(dt).itemsize > best.itemsize:
            ctx.add("W210", "/" + name, f"stored as {np.dtype(dt).name} but the largest value is "
                                        f"{scan.max_value[name]}: {best.name} would hold it")


def times(reps: np.ndarray, nb: int) -> np.ndarray:
    """``reps * nb`` without wrap-around (Python ints when int64 would overflow)."""
    if reps.dtype != object and (not reps.size or int(reps.max()) * int(nb) <= np.iinfo(np.int64).max):
        return reps * int(nb)
    return np.array([int(r) * int(nb) for r in reps], dtype=object)


def exact_sum(e: np.ndarray) -> int:
    """The exact sum of an unsigned integer element (no wrap-around modulo 2**64)."""
    if not e.size:
        return 0
    if int(e.max()) * e.size < 2**64:
        return int(e.sum(dtype=np.uint64))
    return sum(int(x) for x in e)


def claimed_lengths(path: str, ds: h5py.Dataset, s: int, sizeof_addr: int) -> np.ndarray | None:
    """Element lengths of row ``s`` as stored in the VLEN descriptors, without reading the heap.

    HDF5 allocates the length a descriptor claims before it finds the heap
    reference broken, so a corrupt descriptor can demand gigabytes.  The
    on-disk descriptor of a VLEN element is a 4-byte little-endian length
    followed by a global-heap id (an address of ``sizeof_addr`` bytes and a
    4-byte index).  Returns None when the layout does not allow a direct look
    (filtered, virtual, compact or unallocated storage).
    """
    if ds.is_virtual or not ds.shape[1]:
        return None
    dcpl = ds.id.get_create_plist()
    if dcpl.get_nfilters():
        return None
    esz = 8 + sizeof_addr
    N = ds.shape[1]
    layout = dcpl.get_layout()
    if layout == h5py.h5d.CHUNKED:
        cr, cn = ds.chunks
        r0 = (s // cr) * cr
        out = np.zeros(N, dtype=np.int64)
        for c0 in range(0, N, cn):
            info = ds.id.get_chunk_info_by_coord((r0, c0))
            if info.byte_offset is None:
                continue  # unallocated chunk: fill values (empty elements)
            _mask, raw = ds.id.read_direct_chunk((r0, c0))
            rec = np.frombuffer(raw, dtype=np.uint8)
            if rec.size != cr * cn * esz:
                return None
            k = min(cn, N - c0)
            rec = rec.reshape(cr, cn, esz)[s - r0, :k, :4]
            out[c0: c0 + k] = np.ascontiguousarray(rec).view("<u4").reshape(-1)
        return out
    if layout == h5py.h5d.CONTIGUOUS:
        off = ds.id.get_offset()
        if off is None:
            return None
        with open(path, "rb") as fh:
            fh.seek(off + s * N * esz)
            raw = fh.read(N * esz)
        if len(raw) != N * esz:
            return None
        return np.ascontiguousarray(np.frombuffer(raw, np.uint8).reshape(N, esz)[:, :4]).view("<u4") \
            .reshape(-1).astype(np.int64)
    return None


def plausible_row(ctx: Context, scan: _Scan, ds: h5py.Dataset, name: str, s: int) -> bool:
    """False (and an E507 finding) when a descriptor of row ``s`` claims more data than the file holds."""
    try:
        lengths = claimed_lengths(ctx.path, ds, s, scan.sizeof_addr)
    except Exception:  # noqa: BLE001 - no direct look possible: read the row normally
        return True
    if lengths is None or not lengths.size:
        return True
    itemsize = np.dtype(h5py.check_vlen_dtype(ds.dtype)).itemsize
    bad = np.flatnonzero(lengths * itemsize > scan.file_size)
    for n in bad[:5]:
        ctx.add("E507", f"/{name}[{s}, {n}]",
                f"element claims {lengths[n]} values ({lengths[n] * itemsize} bytes), more than the whole "
                f"file ({scan.file_size} bytes): its heap reference is corrupt; row {s} not read")
    return not bad.size


def _row_repeats(ctx: Context, scan: _Scan, s: int) -> np.ndarray | None:
    """Row ``s`` of ``/repeats`` as exact integers; None (reported once as E507 naming /repeats, scan stopped)."""
    try:
        return exact_ints(ctx.rep[s])
    except Exception as e:  # noqa: BLE001 - reported once, naming /repeats
        ctx.add("E507", f"/{L.REPEATS}", f"/{L.REPEATS} cannot be read at row {s} ({type(e).__name__}: {e}); "
                                         f"response rows {s}..{ctx.S - 1} are not checked")
        scan.stopped = True
        return None


def check_row(ctx: Context, scan: _Scan, s: int) -> None:
    """Row ``s``: readable (E507), empty where not recorded (E502), the encoding's invariants, digests (E601)."""
    N, enc = ctx.N, scan.enc
    rp = f"/{L.RESPONSES}[{s}]"
    if not all([plausible_row(ctx, scan, ctx.resp, L.RESPONSES, s)]
               + ([plausible_row(ctx, scan, ctx.cnt, L.COUNTS, s)] if enc == L.ENCODING_EVENTS else [])):
        return
    reps = _row_repeats(ctx, scan, s)
    if reps is None:
        return
    try:
        empty = np.empty(0, dtype=object)
        raw = native(ctx.resp[s], scan.swap.get(L.RESPONSES, False)) if N else empty
        counts = None
        if enc == L.ENCODING_EVENTS:
            counts = native(ctx.cnt[s], scan.swap.get(L.COUNTS, False)) if N else empty
    except Exception as e:  # noqa: BLE001
        ctx.add("E507", rp, f"row {s} cannot be read ({type(e).__name__}: {e})")
        return
    if reps.size:
        scan.max_value[L.REPEATS] = max(scan.max_value[L.REPEATS], int(reps.max()))
    lengths = np.fromiter((e.size for e in raw), dtype=np.int64, count=len(raw))
    empty_where_missing = (reps == 0).astype(bool) & (lengths > 0)
    for n in np.flatnonzero(empty_where_missing):
        ctx.add("E502", f"/{L.RESPONSES}[{s}, {n}]",
                f"holds {lengths[n]} values but /{L.REPEATS}[{s}, {n}] = 0 (an unrecorded pair is empty)")
    values = np.concatenate(list(raw)) if len(raw) else np.empty(0)
    if enc == L.ENCODING_EVENTS:
        _check_events_row(ctx, scan, s, raw, counts, reps, lengths, values)
    else:
        _check_binned_row(ctx, scan, s, raw, reps, lengths, values)
    if scan.verify:
        verify_row(ctx, s, raw, counts)


def _events_findings(ctx: Context, s: int, clen, csum, reps, lengths, times, elements) -> None:
    """E503 (count lengths vs repeats), E504 (count sums vs spike times), E505 (non-finite times; ``elements()``
    gives the row's per-neuron spike times, split only when some time is not finite)."""
    for n in np.flatnonzero((clen != reps).astype(bool)):
        ctx.add("E503", f"/{L.COUNTS}[{s}, {n}]",
                f"holds {clen[n]} per-repeat counts but /{L.REPEATS}[{s}, {n}] = {reps[n]}")
    for n in np.flatnonzero((csum != lengths).astype(bool) & (clen == reps).astype(bool)):
        ctx.add("E504", f"/{L.RESPONSES}[{s}, {n}]",
                f"holds {lengths[n]} spike times but /{L.COUNTS}[{s}, {n}] sums to {csum[n]}")
    if times.size and not all_finite(times):
        for n, e in enumerate(elements()):
            k = int((~np.isfinite(e)).sum())
            if k:
                ctx.add("E505", f"/{L.RESPONSES}[{s}, {n}]", f"holds {k} NaN/Inf spike time(s)")


def _check_events_row(ctx: Context, scan: _Scan, s: int, raw, counts, reps, lengths, values) -> None:
    """Events invariants: one count per repeat (E503) summing to the spike times (E504), finite times (E505)."""
    clen = np.fromiter((e.size for e in counts), dtype=np.int64, count=len(counts))
    csum = np.array([exact_sum(e) for e in counts], dtype=object)
    _events_findings(ctx, s, clen, csum, reps, lengths, values, lambda: raw)
    if len(counts):
        cmax = max((int(e.max()) for e in counts if e.size), default=0)
        scan.max_value[L.COUNTS] = max(scan.max_value[L.COUNTS], cmax)


def _check_binned_row(ctx: Context, scan: _Scan, s: int, raw, reps, lengths, values) -> None:
    """Binned invariants: repeats x n_bins values (E501), no Inf in continuous signals (E506)."""
    nb = int(ctx.n_bins[s])
    expect = times(reps, nb)
    for n in np.flatnonzero((lengths != expect).astype(bool) & (reps > 0).astype(bool)):
        ctx.add("E501", f"/{L.RESPONSES}[{s}, {n}]",
                f"holds {lengths[n]} values, expected repeats x n_bins = {reps[n]} x {nb} = {expect[n]}")
    if scan.rk == L.RESPONSE_CONTINUOUS:
        if values.size and not all_finite(values) and np.isinf(values).any():
            for n, e in enumerate(raw):
                k = int(np.isinf(e).sum())
                if k:
                    ctx.add("E506", f"/{L.RESPONSES}[{s}, {n}]", f"holds {k} infinite value(s)")
    elif values.size:
        scan.max_value[L.RESPONSES] = max(scan.max_value[L.RESPONSES], int(values.max()))


# ------------------------------------------------------------------ rows read by byte range
def locate(ctx: Context) -> dict | None:
    """``{name: (S, N, 2) [offset, nbytes]}`` of every payload of the file's VLEN datasets, found once.

    From the datasets' own VLEN descriptors and global heap collections (the
    truth an index is checked against, E606): None when they cannot be found
    that way (concatenated or remote file, filtered storage, a descriptor
    pointing at no heap object of its length — such rows are read by HDF5).
    """
    if getattr(ctx, "located", False) is not False:
        return ctx.located
    ctx.located = None
    names = [(L.RESPONSES, L.RESPONSES)] + ([(L.COUNTS, L.COUNTS)] if ctx.cnt is not None else [])
    if ctx.concatenated or is_url(ctx.path) or ctx.resp is None:
        return None
    try:
        found = _from_scan(ctx, names)
        if found is None:
            found = locate_chained(ctx.f, names, ctx.path)
        if found is None:
            found = {name: locate_payloads(ctx.f, name, ctx.path) for name, _n in names}
    except Exception:  # noqa: BLE001 - any failure to locate: rows are read (and problems reported) through HDF5
        return None
    ctx.located = found
    return found


def _from_scan(ctx: Context, names: list) -> dict | None:
    """The payloads joined from the heap objects the opening scan walked (no second pass over the file), or None
    (then found as before)."""
    objects = getattr(ctx, "heap_objects", None)
    if objects is None:
        return None
    try:
        return locate_in_objects(ctx.f, names, ctx.path, objects.table())
    except Exception:  # noqa: BLE001 - the other ways find (or refuse) them
        return None


class _FlatRows:
    """Rows of the located payloads read with one ``pread`` of their span (their true values and lengths)."""

    def __init__(self, path: str, located: dict, dtypes: dict):
        self.fd = os.open(path, os.O_RDONLY)
        self.located, self.dtypes = located, dtypes

    @classmethod
    def open(cls, ctx: Context, enc: str):
        try:
            return cls._open(ctx, enc)
        except Exception:  # noqa: BLE001 - rows are then read through HDF5
            return None

    @classmethod
    def _open(cls, ctx: Context, enc: str):
        located = locate(ctx)
        if located is None:
            return None
        dtypes = {L.RESPONSES: np.dtype(h5py.check_vlen_dtype(ctx.resp.dtype))}
        if enc == L.ENCODING_EVENTS:
            if L.COUNTS not in located:
                return None
            dtypes[L.COUNTS] = np.dtype(h5py.check_vlen_dtype(ctx.cnt.dtype))
        return cls(ctx.path, located, dtypes)

    def close(self) -> None:
        os.close(self.fd)

    def _entries(self, name: str, s: int):
        dtype = self.dtypes[name]
        ent = np.asarray(self.located[name][s], dtype=np.int64)
        off, nb = ent[:, 0], ent[:, 1]
        used = nb > 0
        return dtype, nb // max(dtype.itemsize, 1), used, off[used], nb[used]

    def _pieces(self, name: str, s: int, o: np.ndarray, n: np.ndarray) -> list:
        """The payloads at offsets ``o`` (``n`` bytes each): views of one read of their span when it is dense,
        one read each otherwise."""
        lo, hi, total = int(o.min()), int((o + n).max()), int(n.sum())
        if hi - lo <= 4 * total + 65536:
            buf = os.pread(self.fd, hi - lo, lo)
            if len(buf) != hi - lo:
                raise CorruptDataError(f"/{name}[{s}]: the file ends before the row's payloads")
            mv = memoryview(buf)
            return [mv[a - lo : a - lo + b] for a, b in zip(o.tolist(), n.tolist())]
        return [os.pread(self.fd, b, a) for a, b in zip(o.tolist(), n.tolist())]

    def read(self, name: str, s: int) -> tuple[np.ndarray, np.ndarray]:
        dtype, lengths, _used, o, n = self._entries(name, s)
        if not o.size:
            return np.empty(0, dtype), lengths
        total = int(n.sum())
        if (n == n[0]).all():
            lo, hi = int(o.min()), int((o + n).max())
            if hi - lo <= 4 * total + 65536:
                buf = os.pread(self.fd, hi - lo, lo)
                if len(buf) != hi - lo:
                    raise CorruptDataError(f"/{name}[{s}]: the file ends before the row's payloads")
                win = np.lib.stride_tricks.sliding_window_view(np.frombuffer(buf, np.uint8), int(n[0]))
                return win[o - lo].reshape(-1).view(dtype), lengths
        payload = b"".join(self._pieces(name, s, o, n))
        if len(payload) != total:
            raise CorruptDataError(f"/{name}[{s}]: the file ends before the row's payloads")
        return np.frombuffer(payload, dtype=dtype), lengths

    def stream(self, name: str, s: int) -> tuple[bytes, np.ndarray] | None:
        """Row ``s`` as the bytes its SPEC §7.1 digest hashes (each element's value count as 8 little-endian
        bytes, then its values), built with one join from the read, and the value counts.

        Only for little-endian float32/float64 values whose counts stay below ``2**31 - 2**23``: the count
        words, seen as values of that type, are then finite, so the stream is finite exactly when the values
        are. None otherwise, or for elements all of one length (:meth:`read` serves those).
        """
        dtype, lengths, used, o, n = self._entries(name, s)
        if dtype.kind != "f" or dtype.itemsize not in (4, 8) or dtype.str[0] not in "<|" or not o.size \
                or (n == n[0]).all() or int(lengths.max()) >= 0x7F800000:
            return None
        pieces: list = [b""] * lengths.size
        for i, piece in zip(np.flatnonzero(used).tolist(), self._pieces(name, s, o, n)):
            pieces[i] = piece
        out = L.joined_row_message(lengths, pieces)
        if len(out) != 8 * lengths.size + int(n.sum()):
            raise CorruptDataError(f"/{name}[{s}]: the file ends before the row's payloads")
        return out, lengths


def _split(values: np.ndarray, lengths: np.ndarray) -> list:
    return np.split(values, np.cumsum(lengths)[:-1]) if lengths.size else []


def check_row_flat(ctx: Context, scan: _Scan, s: int, flat: _FlatRows) -> None:
    """:func:`check_row` on a row read by byte range: the same findings, whole-row operations."""
    reps = _row_repeats(ctx, scan, s)
    if reps is None:
        return
    stream = None  # the digest's bytes of an events row, read instead of its values (see _FlatRows.stream)
    try:
        if scan.verify and scan.enc == L.ENCODING_EVENTS and L.RESPONSES in ctx.digests:
            stream = flat.stream(L.RESPONSES, s)
        if stream is not None:
            stream, lengths = stream
            values = np.frombuffer(stream, dtype=flat.dtypes[L.RESPONSES])  # finite exactly when the values are
        else:
            values, lengths = flat.read(L.RESPONSES, s)
        counts = clen = None
        if scan.enc == L.ENCODING_EVENTS:
            counts, clen = flat.read(L.COUNTS, s)
    except Exception as e:  # noqa: BLE001 - as check_row reports an unreadable row
        ctx.add("E507", f"/{L.RESPONSES}[{s}]", f"row {s} cannot be read ({type(e).__name__}: {e})")
        return
    if reps.size:
        scan.max_value[L.REPEATS] = max(scan.max_value[L.REPEATS], int(reps.max()))
    for n in np.flatnonzero((reps == 0).astype(bool) & (lengths > 0)):
        ctx.add("E502", f"/{L.RESPONSES}[{s}, {n}]",
                f"holds {lengths[n]} values but /{L.REPEATS}[{s}, {n}] = 0 (an unrecorded pair is empty)")
    if scan.enc == L.ENCODING_EVENTS:
        split = (lambda: _split(flat.read(L.RESPONSES, s)[0], lengths)) if stream is not None else None
        _check_events_flat(ctx, scan, s, values, lengths, counts, clen, reps, split)
    else:
        _check_binned_row(ctx, scan, s, _Lazy(values, lengths), reps, lengths, values)
    if scan.verify:
        for name, v, n in ((L.RESPONSES, values, lengths), (L.COUNTS, counts, clen)):
            ds = ctx.digests.get(name)
            if ds is None or v is None:
                continue
            actual = hashlib.sha256(stream).digest() if name == L.RESPONSES and stream is not None \
                else flat_digest(v, n)
            stored = bytes(np.asarray(ds[s], dtype=np.uint8))
            if stored != actual:
                ctx.add("E601", f"/{name}[{s}]",
                        f"row {s} does not match its digest /{L.INTEGRITY}/{name}[{s}] "
                        f"(stored {stored.hex()[:16]}…, computed {actual.hex()[:16]}…): "
                        "the data changed after they were written")


class _Lazy:
    """The elements of a flat row, split only when a rare finding needs them one by one."""

    def __init__(self, values, lengths):
        self.values, self.lengths = values, lengths

    def __iter__(self):
        return iter(_split(self.values, self.lengths))


def _check_events_flat(ctx, scan, s, times, lengths, counts, clen, reps, split=None) -> None:
    """:func:`_check_events_row` on flat arrays (per-element sums by ``reduceat``, exact); ``split()``, when
    given, returns the per-neuron spike times (``times`` is then only finite exactly when they are)."""
    csum = np.zeros(clen.size, dtype=np.int64)
    has = clen > 0
    if counts.size and int(counts.max()) * counts.size < 2**63:
        starts = (np.cumsum(clen) - clen)[has]
        csum[has] = np.add.reduceat(counts.astype(np.int64), starts)
    elif counts.size:
        csum = np.array([exact_sum(e) for e in _split(counts, clen)], dtype=object)
    _events_findings(ctx, s, clen, csum, reps, lengths, times, split or (lambda: _split(times, lengths)))
    if counts.size:
        scan.max_value[L.COUNTS] = max(scan.max_value[L.COUNTS], int(counts.max()))
