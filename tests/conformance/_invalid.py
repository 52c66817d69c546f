"""The invalid (and warning-only) files of the suite: at least one per finding code of SPEC Appendix A.

Each case starts from a small valid description, changes it before writing or
edits the written file with h5py, and states the finding codes a validator
reports and whether a reader MUST refuse the file.
"""

from __future__ import annotations

import os

import h5py
import numpy as np

import _writer as W

TRANSFORM = {"kind": "synthetic", "n_bands": 2, "hop_ms": 10.0}


def base(encoding: str = "binned", **kw) -> dict:
    spec = dict(stims=[np.arange(6, dtype=np.float32).reshape(1, 2, 3), np.ones((1, 2, 2), np.float32)],
                neuron_ids=["n0", "n1"], transform=TRANSFORM, dt_ms=10.0, uuid="00000000-0000-4000-8000-000000000100")
    if encoding == "binned":
        spec.update(encoding="binned", response_kind="counts",
                    responses=[[np.array([[1, 2, 3]]), None], [np.array([[0, 1], [2, 0]]), np.array([[4, 4]])]])
    else:
        spec.update(responses=[[[np.array([1.0, 12.5]), np.array([])], None], [[np.array([3.0])], [np.array([0.0])]]])
    spec.update(kw)
    return W.defaults(**spec)


# ------------------------------------------------------------ post-write edits
def attr(name, value, obj="/"):
    def edit(f):
        if value is None:
            del f[obj].attrs[name]
        elif isinstance(value, str):
            f[obj].attrs.create(name, value, dtype=W.UTF8)
        else:
            f[obj].attrs[name] = value
    return edit


def delete(path):
    def edit(f):
        del f[path]
    return edit


def replace(path, data, **kw):
    def edit(f):
        del f[path]
        f.create_dataset(path, data=data, **kw)
    return edit


def vlen(path, s, n, values):
    def edit(f):
        f[path][s, n] = np.asarray(values, dtype=h5py.check_vlen_dtype(f[path].dtype))
    return edit


def string(path, i, value):
    def edit(f):
        f[path][i] = value
    return edit


def scalar_string(path, value):
    return replace(path, value, dtype=W.UTF8)


def _then(*edits):
    def edit(f):
        for e in edits:
            e(f)
    return edit


def _group_metadata(f):
    del f["metadata"]
    f.create_group("metadata")


def _repeats_fill(f):
    a = f["repeats"][()]
    del f["repeats"]
    f.create_dataset("repeats", data=a, fillvalue=7)


def _stim(i, data, compression="gzip"):
    def edit(f):
        del f[f"stimuli/{i:06d}/data"]
        f.create_dataset(f"stimuli/{i:06d}/data", data=data, chunks=data.shape, compression=compression,
                         shuffle=True, fletcher32=True)
    return edit


def _kept_waveform_inf(f):
    w = f["stimuli/000000"].create_dataset("waveform", data=np.array([[0.0, np.inf, 1.0]], np.float32),
                                           chunks=(1, 3), compression="gzip", shuffle=True, fletcher32=True)
    w.attrs["sample_rate"] = 100.0


def _external_link(f):
    del f["stimuli/000001"]
    f["stimuli/000001"] = h5py.ExternalLink("other.strf.h5", "/stimuli/000001")


def _virtual_repeats(f):
    a = f["repeats"][()]
    del f["repeats"]
    lay = h5py.VirtualLayout(shape=a.shape, dtype=a.dtype)
    lay[:, :] = h5py.VirtualSource("other.strf.h5", "repeats", shape=a.shape)
    f.create_virtual_dataset("repeats", lay, fillvalue=0)


def _soft_link(f):
    f["neurons/alias"] = h5py.SoftLink("/neurons/ids")


def _unknown_object(f):
    f.create_group("lab_notes")


def _digest(f):
    d = f["integrity/responses"][()]
    d[1, 0] ^= 0xFF
    f["integrity/responses"][...] = d


def write_index(f, offsets, layout="byte-range-v1"):
    """A response byte-range index /index (SPEC §7.2) whose entries are [offsets(s, n, nbytes), nbytes]
    with nbytes the true payload length of each element ([0, 0] for an empty element)."""
    g = f.create_group("index")
    g.attrs.create("layout", layout, dtype=W.UTF8)
    for name in ("responses", "counts"):
        if name not in f:
            continue
        ds = f[name]
        item = h5py.check_vlen_dtype(ds.dtype).itemsize
        table = np.zeros((*ds.shape, 2), np.uint64)
        for s in range(ds.shape[0]):
            for n in range(ds.shape[1]):
                nbytes = len(ds[s, n]) * item
                if nbytes:
                    table[s, n] = (offsets(s, n, nbytes), nbytes)
        g.create_dataset(name, data=table, dtype="<u8")


def _index_layout(f):
    write_index(f, lambda s, n, nb: 8, layout="byte-range-v0")


def _index_outside(f):
    write_index(f, lambda s, n, nb: 2 ** 40)  # far beyond the end of the file


def _index_elsewhere(f):
    write_index(f, lambda s, n, nb: 8)  # inside the file, right lengths, not the payload


# -------------------------------------------------------------- raw-byte edits
def _chunk_offset(path, name, index=(0, 0)):
    with h5py.File(path, "r") as f:
        info = f[name].id.get_chunk_info_by_coord(index)
        return info.byte_offset, info.size


def flip_stim_chunk(path):
    off, size = _chunk_offset(path, "stimuli/000000/data", (0, 0, 0))
    with open(path, "r+b") as fh:
        fh.seek(off + size // 2)
        b = fh.read(1)
        fh.seek(off + size // 2)
        fh.write(bytes([b[0] ^ 0xFF]))


def garbage_descriptors(path):
    off, size = _chunk_offset(path, "responses", (1, 0))
    with open(path, "r+b") as fh:
        fh.seek(off)
        fh.write(b"\xff" * size)


def truncate(path):
    with open(path, "r+b") as fh:
        fh.truncate(1200)


# ------------------------------------------------------------------- cases
R = "refuse"
A = "unspecified"  # the file is invalid; a reader returns correct data or a specific error (SPEC §12)

PLAIN = [
    # name, errors, warnings, reader, base encoding, description changes, h5py edit, byte edit
    ("E003_truncated", ["E003"], [], R, "binned", {}, None, truncate),
    ("E010_wrong_marker", ["E010"], [], R, "binned", {}, attr("strfh5_format", "nwb"), None),
    ("E011_no_version", ["E011"], [], R, "binned", {}, attr("strfh5_version", None), None),
    ("E012_no_minor", ["E012"], [], R, "binned", {"version": "1"}, None, None),
    ("E012_whitespace", ["E012"], [], R, "binned", {"version": " 1.1"}, None, None),
    ("E012_leading_zero", ["E012"], [], R, "binned", {"version": "01.1"}, None, None),
    ("E012_fullwidth_digit", ["E012"], [], R, "binned", {"version": "\uff11.1"}, None, None),
    ("E012_float_version", ["E012", "E102"], [], R, "binned", {}, attr("strfh5_version", np.float64(1.1)), None),
    ("E013_major_2", ["E013"], [], R, "binned", {"version": "2.0"}, None, None),
    ("E014_major_0", ["E014"], [], R, "binned", {"version": "0.9"}, None, None),
    ("W015_newer_minor", [], ["W015"], "read", "binned", {"version": "1.9"}, None, None),
    ("E101_no_dt", ["E101"], [], R, "events", {}, attr("dt_ms", None), None),
    ("E102_dt_string", ["E102"], [], R, "events", {}, attr("dt_ms", "10"), None),
    ("E103_dt_negative", ["E103"], [], R, "events", {"dt_ms": -10.0}, None, None),
    ("E103_concatenated_false", ["E103"], [], R, "binned", {"extra_attrs": {"concatenated": np.bool_(False)}},
     None, None),
    ("E103_bad_uuid", ["E103"], [], A, "binned", {"uuid": "not-a-uuid"}, None, None),
    ("E104_modality", ["E104"], [], A, "events", {"modality": "video"}, None, None),
    ("E105_response_kind", ["E105"], [], R, "events", {"response_kind": "counts"}, None, None),
    ("W106_unknown_attr", [], ["W106"], "read", "binned", {"extra_attrs": {"lab": "x"}}, None, None),
    ("E201_no_repeats", ["E201"], [], R, "events", {}, delete("repeats"), None),
    ("E202_metadata_group", ["E202"], [], R, "events", {}, _group_metadata, None),
    ("E203_repeats_signed", ["E203"], [], R, "binned", {"repeats_dtype": "i2"}, None, None),
    ("E204_n_bins_short", ["E204"], [], R, "binned", {}, replace("stimuli/n_bins", np.array([3], np.uint32)), None),
    ("W205_unknown_object", [], ["W205"], "read", "binned", {}, _unknown_object, None),
    ("E206_count", ["E206"], [], A, "binned", {}, attr("count", np.int64(5), obj="stimuli"), None),
    ("E208_repeats_fill", ["E208"], [], A, "binned", {}, _repeats_fill, None),
    ("W209_counts_in_binned", [], ["W209"], "read", "binned", {},
     lambda f: f.create_dataset("counts", shape=(2, 2), dtype=h5py.vlen_dtype(np.uint8)), None),
    ("W210_wide_counts", [], ["W210"], "read", "binned", {"count_dtype": "u4"}, None, None),
    ("E301_duplicate_stim_id", ["E301"], [], A, "events", {"stim_ids": ["x", "x"]}, None, None),
    ("E701_invalid_utf8_id", ["E701"], ["W207"], R, "binned", {"fixed_strings": True},
     replace("neurons/ids", np.array([b"n0", b"n\xff"], dtype="S2")), None),
    ("E302_duplicate_neuron_id", ["E302"], [], A, "binned", {"neuron_ids": ["n", "n"]}, None, None),
    ("E401_missing_group", ["E401"], [], A, "events", {}, delete("stimuli/000001"), None),
    ("E402_noncanonical_group", ["E402"], [], A, "binned", {},
     lambda f: f.create_group("stimuli/01"), None),
    ("E403_no_data", ["E403"], [], A, "events", {}, delete("stimuli/000000/data"), None),
    ("E404_integer_stimulus", ["E404"], [], A, "binned", {}, _stim(0, np.zeros((1, 2, 3), np.int16)), None),
    ("E405_wrong_F", ["E405"], [], A, "binned", {}, _stim(1, np.zeros((1, 3, 2), np.float32)), None),
    ("E406_T_differs", ["E406"], [], A, "events", {}, _stim(1, np.zeros((1, 2, 4), np.float32)), None),
    ("E407_nan_stimulus", ["E407"], [], A, "binned", {},
     _stim(0, np.array([[[0, np.nan, 1]] * 2], np.float32)), None),
    ("E408_flipped_chunk", ["E408"], [], A, "binned", {}, None, flip_stim_chunk),
    ("E409_no_sample_rate", ["E409"], [], A, "binned",
     {"stim_kind": "waveform", "stim_dims": [1], "stims": [np.ones((1, 8), np.float32)] * 2, "n_bins": [3, 2],
      "sample_rates": [1000.0, 1000.0], "transform": None},
     attr("sample_rate", None, obj="stimuli/000001/data"), None),
    ("E410_waveform_inf", ["E410"], [], A, "binned", {}, _kept_waveform_inf, None),
    ("W411_no_filters", [], ["W411"], "read", "binned", {"filters": False}, None, None),
    ("E412_lzf", ["E412"], ["W411"], A, "binned", {}, _stim(0, np.zeros((1, 2, 3), np.float32), compression="lzf"), None),
    ("W413_no_transform", [], ["W413"], "read", "binned", {"transform": None}, None, None),
    ("E501_length", ["E501"], [], A, "binned", {}, vlen("responses", 0, 0, [1, 2, 3, 4]), None),
    ("E502_nonempty_missing", ["E502"], [], A, "binned", {}, vlen("responses", 0, 1, [1, 2, 3]), None),
    ("E503_counts_length", ["E503"], [], A, "events", {}, vlen("counts", 0, 0, [2, 0, 0]), None),
    ("E504_counts_sum", ["E504"], [], A, "events", {}, vlen("counts", 0, 0, [1, 0]), None),
    ("E505_nan_spike", ["E505"], [], A, "events", {"responses": [[[np.array([1.0, np.nan])], None], [None, None]]},
     None, None),
    ("E506_inf_continuous", ["E506"], [], A, "binned",
     {"response_kind": "continuous", "responses": [[np.array([[1.0, np.inf, 2.0]]), None], [None, None]]},
     None, None),
    ("E507_garbage_descriptors", ["E507"], [], A, "binned", {}, None, garbage_descriptors),
    ("E601_digest", ["E601"], [], A, "binned", {}, _digest, None),
    ("E602_algorithm", ["E602"], [], A, "events", {}, attr("algorithm", "md5-row", obj="integrity/counts"), None),
    ("E604_index_layout", ["E604"], [], "read", "binned", {}, _index_layout, None),
    ("E605_index_outside", ["E605"], [], "read", "events", {}, _index_outside, None),
    ("E606_index_elsewhere", ["E606"], [], "read", "binned", {}, _index_elsewhere, None),
    ("E701_not_json", ["E701"], [], A, "events", {}, scalar_string("metadata", "{'source': 'user'}"), None),
    ("E701_nan_in_json", ["E701"], [], A, "events", {}, string("neurons/metadata", 1, '{"snr": NaN}'), None),
    ("E702_not_object", ["E702"], [], A, "binned", {}, string("stimuli/metadata", 0, "[1, 2]"), None),
    ("E703_no_source", ["E703"], [], A, "binned", {"file_meta": {}}, None, None),
    ("E704_unknown_schema", ["E704"], [], A, "binned", {},
     attr("schema_neuron", "https://example.org/neuron.json"), None),
    ("E801_external_link", ["E801"], [], R, "binned", {}, _external_link, None),
    ("E802_virtual_repeats", ["E802"], [], R, "binned", {}, _virtual_repeats, None),
    ("W803_soft_link", [], ["W205", "W803"], "read", "binned", {}, _soft_link, None),
    ("E804_no_sources", ["E804", "E909"], [], R, "binned", {}, attr("concatenated", np.bool_(True)), None),
]


#: invalid cases whose expected.json holds the values: a wrong response index (SPEC §7.2 rule 4) changes
#: no value, and a reader that does not trust it returns them
VALUES_KEPT = ("E604", "E605", "E606")


def redigest(f):
    """Recompute /integrity from the stored rows after an edit (so that only the intended finding remains)."""
    for name in ("responses", "counts"):
        if name in f and f"integrity/{name}" in f and isinstance(f[name], h5py.Dataset):
            base = h5py.check_vlen_dtype(f[name].dtype)
            if base is None:
                continue
            rows = [W.row_digest(list(f[name][s]), base) for s in range(f[name].shape[0])]
            f[f"integrity/{name}"][...] = np.array([list(r) for r in rows], np.uint8).reshape(-1, 32)


def _plain_builder(name, enc, changes, edit, raw):
    def build(folder):
        path = os.path.join(folder, "file.strf.h5")
        W.write(path, base(enc, **changes))
        if edit is not None:
            with h5py.File(path, "r+") as f:
                edit(f)
                if name[:4] not in ("E601", "E507"):
                    redigest(f)
        if raw is not None:
            raw(path)
        if name[:4] in VALUES_KEPT:
            return base(enc, **changes)  # the stored values are untouched: a reader MUST return them
        return None
    return build


def _folder(folder):
    os.makedirs(os.path.join(folder, "file.strf.h5"))
    with open(os.path.join(folder, "file.strf.h5", "README"), "w") as fh:
        fh.write("a folder named like a strfh5 file (E001)\n")


def _text(folder):
    with open(os.path.join(folder, "file.strf.h5"), "w") as fh:
        fh.write("not an HDF5 file\n")


def cases() -> list[dict]:
    out = [dict(name="E001_folder", description="The path is a folder.", spec=["12"], build=_folder,
                errors=["E001"], warnings=[], reader=R),
           dict(name="E002_not_hdf5", description="A text file.", spec=["1.3"], build=_text, errors=["E002"],
                warnings=[], reader=R)]
    for name, errors, warnings, reader, enc, changes, edit, raw in PLAIN:
        out.append(dict(name=name, description=name.split("_", 1)[1].replace("_", " "), spec=[],
                        build=_plain_builder(name, enc, changes, edit, raw), errors=errors, warnings=warnings,
                        reader=reader))
    return out
