"""A strfh5 writer in plain h5py + NumPy, for the conformance suite only.

The suite must not depend on the library it tests, so its files are written
here from SPEC.md alone: every object of SPEC §3.2 (and §9.1 for concatenated
files) is created explicitly, with the types, fill values, filters and digests
the specification gives.  ``spec`` describes one file; :func:`write` creates
it and returns nothing else (the expected values are built from ``spec`` by
``_expect.py``, never by reading the file back).
"""

from __future__ import annotations

import hashlib
import json

import h5py
import numpy as np

CORE = "https://schema.strfh5.org/core/1.0/{}.schema.json"
UTF8 = h5py.string_dtype("utf-8")


def jtext(obj) -> str:
    """Strict JSON text of ``obj`` (SPEC §8)."""
    return json.dumps(obj, ensure_ascii=False, allow_nan=False)


def row_digest(elements, base: np.dtype) -> bytes:
    """SPEC §7: per element, uint64-LE length then the little-endian values."""
    h = hashlib.sha256()
    for el in elements:
        a = np.ascontiguousarray(np.asarray(el, dtype=base), dtype=np.dtype(base).newbyteorder("<"))
        h.update(np.uint64(a.size).astype("<u8").tobytes())
        h.update(a.tobytes())
    return h.digest()


def defaults(**spec) -> dict:
    """A file description with every key filled in (see :func:`write`)."""
    S = len(spec["stims"])
    N = len(spec["neuron_ids"])
    d = dict(
        version="1.1", uuid="00000000-0000-4000-8000-000000000000", encoding="events", response_kind="spike_times",
        dt_ms=10.0, stim_kind="spectrogram", transform=None, file_meta={"source": "user"},
        stim_ids=[f"s{i}" for i in range(S)], stim_meta=[{} for _ in range(S)], nrn_meta=[{} for _ in range(N)],
        n_bins=None, sample_rates=None, waveforms=[None] * S, byteorder="<", fixed_strings=False,
        time_dtype="f8", count_dtype="u1", repeats_dtype="u1", nbins_dtype="u4", filters=True,
        concatenated=False, extra_attrs={},
    )
    d.update(spec)
    if d["n_bins"] is None:
        d["n_bins"] = [int(np.shape(a)[-1]) for a in d["stims"]]
    if "stim_dims" not in d:
        d["stim_dims"] = list(np.shape(d["stims"][0])[:-1]) if S else [1, 1]
    d["modality"] = d.get("modality", "video" if d["stim_kind"] == "video" else "audio")
    return d


def _strings(values, fixed: bool):
    if fixed:
        enc = [v.encode("utf-8") for v in values]
        width = max([len(e) for e in enc] + [1])
        return np.array(enc, dtype=f"S{width}"), None
    return np.array(values, dtype=object), UTF8


def _table(g, name, values, fixed):
    data, dt = _strings(values, fixed)
    if dt is None:
        g.create_dataset(name, data=data)
    else:
        g.create_dataset(name, shape=(len(values),), dtype=dt, data=data if len(values) else None)


def _stim_dataset(g, name, a, filters: bool, byteorder: str):
    a = np.asarray(a)
    a = a.astype(a.dtype.newbyteorder(byteorder))
    if filters and a.size:
        return g.create_dataset(name, data=a, chunks=a.shape, compression="gzip", shuffle=True, fletcher32=True)
    return g.create_dataset(name, data=a)


def _elements(d: dict) -> tuple[list, list | None, np.ndarray]:
    """(S, N) lists of stored response and count elements, and the repeats matrix."""
    S, N = len(d["stims"]), len(d["neuron_ids"])
    resp = [[np.empty(0)] * N for _ in range(S)]
    counts = [[np.empty(0)] * N for _ in range(S)] if d["encoding"] == "events" else None
    reps = np.zeros((S, N), dtype=np.int64)
    for s in range(S):
        for n in range(N):
            el = d["responses"][s][n]
            if el is None:
                continue
            if d["encoding"] == "events":
                reps[s, n] = len(el)
                counts[s][n] = np.array([len(t) for t in el], dtype=np.int64)
                resp[s][n] = np.concatenate([np.asarray(t, np.float64) for t in el]) if el else np.empty(0)
            else:
                a = np.asarray(el)
                reps[s, n] = a.shape[0]
                resp[s][n] = a.reshape(-1)
    return resp, counts, reps


def _vlen(f, name, elements, base: np.dtype, S: int, N: int):
    ds = f.create_dataset(name, shape=(S, N), dtype=h5py.vlen_dtype(base), chunks=(1, max(N, 1)),
                          maxshape=(None, None))
    for s in range(S):
        for n in range(N):
            if len(elements[s][n]):
                ds[s, n] = np.asarray(elements[s][n]).astype(base)
    return ds


def write(path: str, d: dict) -> None:
    """Write the strfh5 file described by ``d`` (a :func:`defaults` dict)."""
    S, N = len(d["stims"]), len(d["neuron_ids"])
    bo = d["byteorder"]
    vbo = d.get("vlen_byteorder") or bo
    resp, counts, reps = _elements(d)
    if d["encoding"] == "events":
        rbase = np.dtype(d["time_dtype"]).newbyteorder(vbo)
    elif d["response_kind"] == "counts":
        rbase = np.dtype(d["count_dtype"]).newbyteorder(vbo)
    else:
        rbase = np.dtype("f4").newbyteorder(vbo)
    with h5py.File(path, "w", libver=("v110", "v110")) as f:
        a = f.attrs
        for k, v in (("strfh5_format", "strfh5"), ("strfh5_version", d["version"]), ("uuid", d["uuid"]),
                     ("created_by", "strfh5-conformance 1"), ("created_at", "2026-01-01T00:00:00+00:00"),
                     ("encoding", d["encoding"]), ("modality", d["modality"]), ("stim_kind", d["stim_kind"]),
                     ("response_kind", d["response_kind"]), ("schema_file", CORE.format("file")),
                     ("schema_stimulus", CORE.format("stimulus")), ("schema_neuron", CORE.format("neuron"))):
            a.create(k, v, dtype=UTF8)
        a["dt_ms"] = np.float64(d["dt_ms"])
        a["stim_dims"] = np.asarray(d["stim_dims"], dtype=np.int64)
        if d["concatenated"]:
            a["concatenated"] = np.bool_(True)
        for k, v in d["extra_attrs"].items():
            a[k] = v
        f.create_dataset("metadata", data=jtext(d["file_meta"]), dtype=UTF8)
        st = f.create_group("stimuli")
        if d["transform"] is not None:
            st.attrs.create("transform", jtext(d["transform"]), dtype=UTF8)
        _table(st, "ids", d["stim_ids"], d["fixed_strings"])
        _table(st, "metadata", [jtext(m) for m in d["stim_meta"]], d["fixed_strings"])
        st.create_dataset("n_bins", data=np.asarray(d["n_bins"], dtype=np.dtype(d["nbins_dtype"]).newbyteorder(bo)))
        for s in range(S):
            g = st.create_group(f"{s:06d}")
            ds = _stim_dataset(g, "data", d["stims"][s], d["filters"], bo)
            if d["stim_kind"] == "waveform":
                ds.attrs["sample_rate"] = np.float64(d["sample_rates"][s])
            if d["waveforms"][s] is not None:
                w, sr = d["waveforms"][s]
                wd = _stim_dataset(g, "waveform", w, d["filters"], bo)
                wd.attrs["sample_rate"] = np.float64(sr)
        nr = f.create_group("neurons")
        _table(nr, "ids", d["neuron_ids"], d["fixed_strings"])
        _table(nr, "metadata", [jtext(m) for m in d["nrn_meta"]], d["fixed_strings"])
        _vlen(f, "responses", resp, rbase, S, N)
        if counts is not None:
            cbase = np.dtype(d["count_dtype"]).newbyteorder(vbo)
            _vlen(f, "counts", counts, cbase, S, N)
        f.create_dataset("repeats", data=reps.astype(np.dtype(d["repeats_dtype"]).newbyteorder(bo)), fillvalue=0)
        ig = f.create_group("integrity")
        named = [("responses", resp, rbase)] + ([("counts", counts, cbase)] if counts is not None else [])
        for name, els, base in named:
            dig = np.array([list(row_digest(els[s], base)) for s in range(S)], dtype=np.uint8).reshape(S, 32)
            x = ig.create_dataset(name, data=dig)
            x.attrs.create("algorithm", "sha256-row-v1", dtype=UTF8)
