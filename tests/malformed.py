"""A corpus of deliberately malformed strfh5 files, for the validator's tests.

Each :class:`Case` names a valid *base* file (built by :func:`build_bases`
with the library's own writer), a mutation that breaks exactly one rule of
SPEC.md in a copy of it (through h5py or by editing raw bytes), and the
finding code that :func:`strfh5.validate` must report.  :func:`make` writes the
malformed file; ``tests/test_validation.py`` runs every case through
``validate`` and through ``strfh5 validate``.

The mutations are written against SPEC.md, not against the validator: a case
describes how a file can be wrong in the wild (a hand-written MATLAB file, an
interrupted edit, a flipped bit on disk), and the code the specification
assigns to that problem.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from typing import Callable

import h5py
import numpy as np

import strfh5
from strfh5 import layout as L

_STR = h5py.string_dtype("utf-8")

#: spike times of pair (1, 1) of the events base: distinctive bytes to find in the raw file
MARKER_TIMES = np.array([123.456789012345, 234.567890123456, 345.678901234567, 456.789012345678])


# ------------------------------------------------------------------ bases
def _stims(rng, T_list, F=4):
    return [rng.random((1, F, T)).astype(np.float32) for T in T_list]


def build_events(path: str) -> str:
    """S=3, N=3 events file: spectrograms with a kept waveform, a transform, missing pairs."""
    rng = np.random.default_rng(1)
    T = [10, 8, 12]
    spikes = [
        [[np.array([-3.0, 1.5, 7.25]), np.array([2.0])], None, [np.array([0.5, 49.0])]],
        [[np.array([4.0])], [MARKER_TIMES[:2], MARKER_TIMES[2:]], [np.array([]), np.array([9.5])]],
        [None, [np.array([11.0, 12.0, 13.0])], [np.array([1.0]), np.array([2.0]), np.array([3.0])]],
    ]
    wf = [(rng.standard_normal((1, 800)).astype(np.float32), 16000.0), None, None]
    c = strfh5.contents_from_lists(
        _stims(rng, T), spike_times=spikes, dt_ms=5.0,
        stim_ids=["song-a", "song-b", "ripple-1"], neuron_ids=["u1", "u2", "u3"],
        stim_meta=[{"name": "a", "subset": "est"}, {"name": "b", "subset": "est"}, {"name": "r", "subset": "val"}],
        nrn_meta=[{"cell_id": "u1", "area": "A1"}, {"cell_id": "u2", "area": "A1"}, {"cell_id": "u3", "area": "PEG"}],
        waveforms=wf, transform={"kind": "log", "n_bands": 4, "hop_ms": 5.0},
        file_meta={"title": "malformed-corpus base (events)"},
    )
    return strfh5.save(c, path)


def build_binned(path: str) -> str:
    """S=3, N=3 binned-counts file (uint8) with missing pairs."""
    rng = np.random.default_rng(2)
    T = [6, 9, 7]
    resp = [
        [rng.integers(0, 5, (2, 6)), None, rng.integers(0, 5, (1, 6))],
        [rng.integers(0, 5, (3, 9)), rng.integers(0, 5, (1, 9)), None],
        [None, rng.integers(0, 5, (2, 7)), rng.integers(0, 5, (4, 7))],
    ]
    c = strfh5.contents_from_lists(_stims(rng, T), responses=resp, dt_ms=10.0, neuron_ids=["0", "1", "2"],
                                   transform={"kind": "synthetic"})
    return strfh5.save(c, path)


def build_continuous(path: str) -> str:
    """S=2, N=2 continuous float32 file with NaN samples (allowed)."""
    rng = np.random.default_rng(3)
    a = rng.standard_normal((2, 5)).astype(np.float32)
    a[0, 1] = np.nan
    resp = [[a, rng.standard_normal((1, 5))], [None, rng.standard_normal((3, 4))]]
    c = strfh5.contents_from_lists(_stims(rng, [5, 4]), responses=resp, dt_ms=2.0,
                                   response_kind="continuous", transform={"kind": "synthetic"})
    return strfh5.save(c, path)


def build_waveform(path: str) -> str:
    """S=2, N=2 binned file whose stimuli are waveforms (C, T_audio) with sample rates."""
    rng = np.random.default_rng(4)
    stims = [rng.standard_normal((1, 400)).astype(np.float32), rng.standard_normal((1, 300)).astype(np.float32)]
    resp = [[rng.integers(0, 3, (2, 25)), None], [rng.integers(0, 3, (1, 19)), rng.integers(0, 3, (2, 19))]]
    c = strfh5.contents_from_lists(stims, responses=resp, dt_ms=1.0, stim_kind="waveform",
                                   n_bins=[25, 19], sample_rates=[16000.0, 16000.0])
    return strfh5.save(c, path)


def build_video(path: str) -> str:
    """S=2, N=2 events file with video stimuli (C, H, W, T)."""
    rng = np.random.default_rng(5)
    stims = [rng.random((1, 3, 4, 6)).astype(np.float32), rng.random((1, 3, 4, 5)).astype(np.float32)]
    spikes = [[[np.array([1.0, 2.0])], None], [[np.array([3.0])], [np.array([4.0]), np.array([])]]]
    c = strfh5.contents_from_lists(stims, spike_times=spikes, dt_ms=33.0, transform={"kind": "video"})
    return strfh5.save(c, path)


BASE_BUILDERS: dict[str, Callable[[str], str]] = {
    "events": build_events,
    "binned": build_binned,
    "continuous": build_continuous,
    "waveform": build_waveform,
    "video": build_video,
}


def build_bases(folder) -> dict[str, str]:
    """Write every base file into ``folder``; returns ``{name: path}``."""
    out = {}
    os.makedirs(os.fspath(folder), exist_ok=True)
    for name, build in BASE_BUILDERS.items():
        p = os.path.join(os.fspath(folder), f"base-{name}.strf.h5")
        if not os.path.exists(p):
            build(p)
        out[name] = p
    return out


# -------------------------------------------------------------- mutations
def _h5(fn):
    """Wrap ``fn(f: h5py.File)`` as a mutation of the file at a path."""

    def mutate(path):
        with h5py.File(path, "r+") as f:
            fn(f)

    mutate.__doc__ = fn.__doc__
    return mutate


def set_attr(name, value, obj="/"):
    return _h5(lambda f: f[obj].attrs.__setitem__(name, value))


def del_attr(name, obj="/"):
    return _h5(lambda f: f[obj].attrs.__delitem__(name))


def delete(name):
    return _h5(lambda f: f.__delitem__(name))


def replace(name, make_data, **kw):
    """Replace dataset ``name`` by ``create_dataset(name, data=make_data(old), **kw)``."""

    def fn(f):
        old = f[name][()]
        del f[name]
        f.create_dataset(name, data=make_data(old), **kw)

    return _h5(fn)


def set_element(name, s, n, value):
    def fn(f):
        ds = f[name]
        ds[s, n] = np.asarray(value, dtype=h5py.check_vlen_dtype(ds.dtype))

    return _h5(fn)


def set_string(name, index, text):
    def fn(f):
        f[name][index] = text

    return _h5(fn)


def set_scalar_string(name, text):
    def fn(f):
        del f[name]
        f.create_dataset(name, data=text, dtype=_STR)

    return _h5(fn)


def _vlen_like(f, name, base_dtype, fill):
    """Recreate (S, N) VLEN ``name`` with another base type (each element ``fill(old)``)."""
    old = f[name][()]
    del f[name]
    ds = f.create_dataset(name, shape=old.shape, dtype=h5py.vlen_dtype(base_dtype))
    for idx in np.ndindex(old.shape):
        ds[idx] = np.asarray(fill(old[idx]), dtype=base_dtype)


def flip_chunk_byte(name, coord):
    """Flip one byte in the middle of the stored chunk of ``name`` at ``coord`` (raw file edit)."""

    def mutate(path):
        with h5py.File(path, "r") as f:
            info = f[name].id.get_chunk_info_by_coord(coord)
        flip_byte(path, info.byte_offset + info.size // 2)

    return mutate


def overwrite_chunk(name, coord, byte=0xFF):
    """Overwrite the whole stored chunk of ``name`` at ``coord`` (raw file edit)."""

    def mutate(path):
        with h5py.File(path, "r") as f:
            info = f[name].id.get_chunk_info_by_coord(coord)
        with open(path, "r+b") as fh:
            fh.seek(info.byte_offset)
            fh.write(bytes([byte]) * info.size)

    return mutate


def corrupt_heap_address(name, s, n):
    """Overwrite the global-heap address in the stored descriptor of element (s, n), keeping its length."""

    def mutate(path):
        with h5py.File(path, "r") as f:
            ds = f[name]
            cr, cn = ds.chunks
            info = ds.id.get_chunk_info_by_coord(((s // cr) * cr, (n // cn) * cn))
            esz = 8 + f.id.get_create_plist().get_sizes()[0]
        rec = ((s % cr) * cn + n % cn) * esz
        with open(path, "r+b") as fh:
            fh.seek(info.byte_offset + rec + 4)
            fh.write(b"\xfe" * (esz - 8))

    return mutate


def flip_byte(path, offset: int, mask: int = 0x01) -> None:
    with open(path, "r+b") as fh:
        fh.seek(offset)
        b = fh.read(1)[0]
        fh.seek(offset)
        fh.write(bytes([b ^ mask]))


def find_bytes(path, needle: bytes) -> int:
    """Offset of the single occurrence of ``needle`` in the raw file."""
    data = open(path, "rb").read()
    i = data.find(needle)
    if i < 0 or data.find(needle, i + 1) >= 0:
        raise AssertionError(f"{path}: expected exactly one occurrence of the marker bytes")
    return i


def flip_heap_marker(path) -> None:
    """Flip the lowest mantissa bit of MARKER_TIMES[0] in the VLEN heap of an events base."""
    off = find_bytes(path, MARKER_TIMES[:2].astype("<f8").tobytes())
    flip_byte(path, off)


# ----------------------------------------------------------------- extras
def _extra_stim_group(f):
    g = f.create_group("stimuli/000007")
    g.create_dataset("data", data=np.zeros((1, 4, 8), np.float32))


def _noncanonical_group(f):
    g = f.create_group("stimuli/01")
    g.create_dataset("data", data=np.zeros((1, 4, 8), np.float32))


def _stim_data(s, make, **kw):
    def fn(f):
        name = f"stimuli/{L.stim_group_name(s)}/data"
        old = f[name]
        attrs = dict(old.attrs)
        arr = make(old[()])
        del f[name]
        ds = f.create_dataset(name, data=arr, **kw)
        for k, v in attrs.items():
            ds.attrs[k] = v

    return _h5(fn)


def _nan_at(a, idx=(0, 1, 2)):
    a = a.copy()
    a[idx] = np.nan
    return a


def _kept_waveform_nan(f):
    ds = f["stimuli/000000/waveform"]
    a = ds[()]
    sr = ds.attrs["sample_rate"]
    a[0, 10] = np.inf
    del f["stimuli/000000/waveform"]
    f.create_dataset("stimuli/000000/waveform", data=a).attrs["sample_rate"] = sr


def _responses_not_vlen(f):
    S, N = f["responses"].shape
    del f["responses"]
    f.create_dataset("responses", data=np.zeros((S, N)))


def _times_int32(f):
    _vlen_like(f, "responses", np.dtype("<i4"), lambda e: np.round(e))


def _binned_signed(f):
    _vlen_like(f, "responses", np.dtype("<i2"), lambda e: e.astype(np.int16))


def _repeats_fill(f):
    data = f["repeats"][()]
    del f["repeats"]
    f.create_dataset("repeats", data=data, fillvalue=7)


def _metadata_group(f):
    del f["metadata"]
    f.create_group("metadata")


def _n_bins_short(f):
    data = f["stimuli/n_bins"][()]
    del f["stimuli/n_bins"]
    f.create_dataset("stimuli/n_bins", data=data[:-1])


def _repeats_wide(f):
    data = f["repeats"][()]
    del f["repeats"]
    f.create_dataset("repeats", data=np.hstack([data, np.zeros((data.shape[0], 1), data.dtype)]), fillvalue=0)


def _n_bins_changed(f):
    nb = f["stimuli/n_bins"][()]
    nb[1] += 3
    f["stimuli/n_bins"][...] = nb


def _external_link(path_folder_name="elsewhere.h5"):
    def mutate(path):
        other = os.path.join(os.path.dirname(path), path_folder_name)
        with h5py.File(other, "w") as o:
            o.create_group("stimuli/000001").create_dataset("data", data=np.zeros((1, 4, 8), np.float32))
        with h5py.File(path, "r+") as f:
            del f["stimuli/000001"]
            f["stimuli/000001"] = h5py.ExternalLink(path_folder_name, "/stimuli/000001")

    return mutate


def _virtual_repeats(path):
    other = os.path.join(os.path.dirname(path), "repeats-source.h5")
    with h5py.File(path, "r+") as f:
        data = f["repeats"][()]
        with h5py.File(other, "w") as o:
            o.create_dataset("repeats", data=data)
        del f["repeats"]
        layout = h5py.VirtualLayout(shape=data.shape, dtype=data.dtype)
        layout[:, :] = h5py.VirtualSource("repeats-source.h5", "repeats", shape=data.shape)
        f.create_virtual_dataset("repeats", layout, fillvalue=0)


# ------------------------------------------------------------------ cases
@dataclass(frozen=True)
class Case:
    """One malformed file: ``mutate`` breaks ``base`` so that ``validate`` reports ``code``."""

    name: str
    base: str
    code: str
    mutate: Callable[[str], None]
    doc: str

    @property
    def exit_code(self) -> int:
        return 2 if self.code in ("E001", "E002", "E003") else 1


def _truncate(path):
    with open(path, "r+b") as fh:
        fh.truncate(1200)


CASES: list[Case] = [
    # file / version
    Case("truncated", "events", "E003", _truncate, "HDF5 signature but the file was cut short"),
    Case("no-format-marker", "events", "E010", del_attr(L.ATTR_FORMAT), "HDF5 without the strfh5 marker"),
    Case("wrong-format-marker", "binned", "E010", set_attr(L.ATTR_FORMAT, "nwb"), "another format's name"),
    Case("no-version", "events", "E011", del_attr(L.ATTR_VERSION), "strfh5_version missing"),
    Case("malformed-version", "events", "E012", set_attr(L.ATTR_VERSION, "1"), "version without minor"),
    Case("major-2", "binned", "E013", set_attr(L.ATTR_VERSION, "2.0"), "a future major version"),
    Case("major-0", "binned", "E014", set_attr(L.ATTR_VERSION, "0.9"), "a pre-1.0 file"),
    # root attributes
    Case("no-dt", "events", "E101", del_attr(L.ATTR_DT_MS), "dt_ms missing"),
    Case("no-uuid", "binned", "E101", del_attr(L.ATTR_UUID), "uuid missing"),
    Case("dt-string", "events", "E102", set_attr(L.ATTR_DT_MS, "5"), "dt_ms stored as a string"),
    Case("stim-dims-float", "binned", "E102", set_attr(L.ATTR_STIM_DIMS, np.array([1.0, 4.0])),
         "stim_dims as floats"),
    Case("encoding-numeric", "binned", "E102", set_attr(L.ATTR_ENCODING, np.int64(1)), "encoding as a number"),
    Case("dt-negative", "events", "E103", set_attr(L.ATTR_DT_MS, -5.0), "negative bin width"),
    Case("dt-nan", "binned", "E103", set_attr(L.ATTR_DT_MS, np.nan), "NaN bin width"),
    Case("bad-encoding", "events", "E103", set_attr(L.ATTR_ENCODING, "spikes"), "unknown encoding"),
    Case("bad-stim-kind", "events", "E103", set_attr(L.ATTR_STIM_KIND, "image"), "unknown stimulus kind"),
    Case("stim-dims-length", "events", "E103", set_attr(L.ATTR_STIM_DIMS, np.array([4])),
         "spectrogram stim_dims without channel axis"),
    Case("bad-uuid", "binned", "E103", set_attr(L.ATTR_UUID, "not-a-uuid"), "uuid not RFC 4122"),
    Case("bad-created-at", "binned", "E103", set_attr(L.ATTR_CREATED_AT, "yesterday"), "created_at not ISO 8601"),
    Case("modality-mismatch", "events", "E104", set_attr(L.ATTR_MODALITY, "video"),
         "video modality for spectrograms"),
    Case("response-kind-mismatch", "events", "E105", set_attr(L.ATTR_RESPONSE_KIND, "counts"),
         "binned response kind in an events file"),
    # structure
    Case("no-repeats", "events", "E201", delete(L.REPEATS), "/repeats deleted"),
    Case("no-counts", "events", "E201", delete(L.COUNTS), "/counts deleted from an events file"),
    Case("no-neuron-ids", "binned", "E201", delete(L.NEURON_IDS), "/neurons/ids deleted"),
    Case("no-integrity", "binned", "E201", delete(L.INTEGRITY_RESPONSES), "row digests deleted"),
    Case("metadata-is-group", "events", "E202", _h5(_metadata_group), "/metadata is a group"),
    Case("responses-not-vlen", "binned", "E203", _h5(_responses_not_vlen), "/responses fixed-size floats"),
    Case("times-int32", "events", "E203", _h5(_times_int32), "spike times stored as int32"),
    Case("counts-signed", "binned", "E203", _h5(_binned_signed), "binned counts in a signed type"),
    Case("repeats-signed", "binned", "E203", replace(L.REPEATS, lambda a: a.astype(np.int16)),
         "/repeats signed"),
    Case("n-bins-float", "binned", "E203", replace(L.STIM_N_BINS, lambda a: a.astype(np.float64)),
         "/stimuli/n_bins floats"),
    Case("ids-numeric", "binned", "E203", replace(L.NEURON_IDS, lambda a: np.arange(len(a))),
         "neuron ids as integers"),
    Case("repeats-shape", "events", "E204", _h5(_repeats_wide), "/repeats (S, N+1)"),
    Case("n-bins-short", "binned", "E204", _h5(_n_bins_short), "/stimuli/n_bins with S-1 entries"),
    Case("stim-count", "binned", "E206", set_attr(L.ATTR_COUNT, np.int64(5), obj=L.STIMULI),
         "/stimuli@count differs from S"),
    Case("repeats-fill", "binned", "E208", _h5(_repeats_fill), "/repeats fill value 7"),
    # ids
    Case("duplicate-stim-id", "events", "E301", set_string(L.STIM_IDS, 2, "song-a"), "stimulus id twice"),
    Case("duplicate-neuron-id", "binned", "E302", set_string(L.NEURON_IDS, 1, "0"), "neuron id twice"),
    # stimuli
    Case("missing-stim-group", "events", "E401", delete("stimuli/000001"), "stimulus group deleted"),
    Case("extra-stim-group", "events", "E402", _h5(_extra_stim_group), "group 000007 for S = 3"),
    Case("noncanonical-group", "binned", "E402", _h5(_noncanonical_group), "group named '01'"),
    Case("stim-no-data", "events", "E403", delete("stimuli/000000/data"), "stimulus group without data"),
    Case("stim-int16", "binned", "E404", _stim_data(0, lambda a: (a * 100).astype(np.int16)),
         "integer stimulus"),
    Case("stim-wrong-F", "events", "E405", _stim_data(1, lambda a: np.zeros((1, 5, a.shape[-1]), np.float32)),
         "F differs from stim_dims"),
    Case("stim-wrong-ndim", "video", "E405", _stim_data(0, lambda a: a[..., 0]), "video without time axis"),
    Case("stim-T", "events", "E406", _h5(_n_bins_changed), "spectrogram T differs from n_bins"),
    Case("stim-nan", "binned", "E407", _stim_data(1, _nan_at), "NaN in a spectrogram"),
    Case("stim-inf-video", "video", "E407", _stim_data(1, lambda a: _nan_at(a, (0, 1, 1, 1)) * -np.inf),
         "Inf in a video"),
    Case("stim-corrupt-chunk", "events", "E408", flip_chunk_byte("stimuli/000002/data", (0, 0, 0)),
         "a flipped byte in a fletcher32-checked stimulus chunk"),
    Case("waveform-no-rate", "waveform", "E409", del_attr("sample_rate", obj="stimuli/000001/data"),
         "waveform stimulus without sample_rate"),
    Case("waveform-rate-zero", "waveform", "E409", set_attr("sample_rate", 0.0, obj="stimuli/000000/data"),
         "sample_rate 0"),
    Case("kept-waveform-inf", "events", "E410", _h5(_kept_waveform_nan), "Inf in a kept source waveform"),
    Case("stim-lzf", "binned", "E412", _stim_data(0, lambda a: a, compression="lzf"),
         "stimulus compressed with h5py's LZF filter"),
    # responses
    Case("binned-too-long", "binned", "E501", set_element(L.RESPONSES, 0, 0, np.zeros(13)),
         "element length not repeats x n_bins"),
    Case("binned-nonempty-missing", "binned", "E502", set_element(L.RESPONSES, 0, 1, np.ones(6)),
         "values where repeats = 0"),
    Case("events-nonempty-missing", "events", "E502", set_element(L.RESPONSES, 0, 1, [1.0]),
         "spike times where repeats = 0"),
    Case("events-counts-len", "events", "E503", set_element(L.COUNTS, 0, 0, [3, 0, 0]),
         "three per-repeat counts for two repeats"),
    Case("events-counts-sum", "events", "E504", set_element(L.COUNTS, 0, 0, [2, 1]),
         "per-repeat counts not summing to the spike times"),
    Case("spike-nan", "events", "E505", set_element(L.RESPONSES, 2, 1, [11.0, np.nan, 13.0]),
         "NaN spike time"),
    Case("spike-inf-video", "video", "E505", set_element(L.RESPONSES, 0, 0, [1.0, np.inf]), "Inf spike time"),
    Case("continuous-inf", "continuous", "E506", set_element(L.RESPONSES, 1, 1, np.r_[np.zeros(11), np.inf]),
         "Inf in a continuous signal"),
    Case("responses-row-garbage", "binned", "E507", overwrite_chunk(L.RESPONSES, (1, 0)),
         "the descriptors of a response row overwritten (lengths of 4 GB claimed)"),
    Case("responses-bad-heap-address", "events", "E507", corrupt_heap_address(L.RESPONSES, 2, 1),
         "a descriptor pointing outside the file"),
    # integrity
    Case("digest-algorithm", "events", "E602", set_attr(L.ATTR_ALGORITHM, "md5-row", obj=L.INTEGRITY_COUNTS),
         "unknown digest algorithm"),
    # metadata
    Case("file-meta-not-json", "events", "E701", set_scalar_string(L.METADATA, "{'source': 'user'}"),
         "Python repr instead of JSON"),
    Case("neuron-meta-nan", "events", "E701", set_string(L.NEURON_METADATA, 1, '{"snr": NaN}'),
         "NaN in JSON metadata (not strict JSON)"),
    Case("stim-meta-duplicate-key", "binned", "E701", set_string(L.STIM_METADATA, 0, '{"name": "a", "name": "b"}'),
         "duplicate key in a JSON object"),
    Case("transform-not-json", "events", "E701", set_attr(L.ATTR_TRANSFORM, "kind=log", obj=L.STIMULI),
         "transform attribute not JSON"),
    Case("stim-meta-array", "events", "E702", set_string(L.STIM_METADATA, 0, "[1, 2]"), "record not an object"),
    Case("file-meta-no-source", "binned", "E703", set_scalar_string(L.METADATA, "{}"),
         "file metadata without the required 'source'"),
    Case("neuron-meta-schema", "events", "E703", set_string(L.NEURON_METADATA, 0, '{"snr": "high"}'),
         "snr not a number"),
    Case("transform-no-kind", "events", "E703", set_attr(L.ATTR_TRANSFORM, '{"n_bands": 4}', obj=L.STIMULI),
         "transform without 'kind'"),
    Case("unknown-schema", "binned", "E704", set_attr(L.ATTR_SCHEMA_NEURON, "https://example.org/neuron.json"),
         "schema id not shipped with the library"),
    # links
    Case("external-link", "events", "E801", _external_link(), "stimulus group replaced by an external link"),
    Case("virtual-repeats", "binned", "E802", _virtual_repeats, "/repeats a virtual dataset in a plain file"),
    Case("concatenated-without-sources", "binned", "E804", set_attr(L.ATTR_CONCATENATED, np.bool_(True)),
         "marked concatenated but records no sources"),
]


def make(case: Case, folder, bases: dict[str, str]) -> str:
    """Write the malformed file of ``case`` into its own sub-folder of ``folder``; returns its path."""
    d = os.path.join(os.fspath(folder), case.name)
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, f"{case.name}.strf.h5")
    shutil.copyfile(bases[case.base], path)
    case.mutate(path)
    return path
