"""Write the golden files of this format version and the values they must read back as.

Run once per format version (``python tests/data/golden/make_golden.py 1.1``) and
commit the result; NEVER regenerate the files of a released version — later
versions of strfh5 must keep reading them exactly as recorded in
``expected_<version>.json``.  The expected values are built from the inputs
below, not by reading the files back.

Each file is stored gzip-compressed (``*.strf.h5.gz``): tiny HDF5 files are
mostly object headers and B-tree nodes, which compress ~10x; the bytes inside
are exactly what the writer produced.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def _values(a) -> list:
    """Array -> nested lists of float64/int (NaN as None), exact."""
    a = np.asarray(a)
    if a.dtype.kind == "f":
        a64 = a.astype(np.float64)
        return [_values(x) for x in a64] if a64.ndim > 1 else [None if np.isnan(v) else float(v) for v in a64]
    return a.tolist()


def cases(version: str = "1.0") -> dict[str, dict]:
    """The golden datasets of ``version`` (keyword arguments of strfh5.contents_from_lists)."""
    rng = np.random.default_rng(20240611)
    out = {}
    # 1. events, float64 spike times (negative = pre-onset, beyond T*dt = post-stimulus),
    #    spectrogram with a kept waveform, an all-missing neuron, a zero-spike repeat, unicode
    out["events"] = dict(
        stims=[rng.normal(size=(1, 4, 6)).astype(np.float32), rng.normal(size=(1, 4, 3)).astype(np.float32)],
        spike_times=[
            [[np.array([-12.5, 0.0, 3.25, 29.75]), np.array([], np.float64)], None, [np.array([1e-3, 40.0])]],
            [None, None, [np.array([-0.0]), np.array([7.5, 7.5]), np.array([14.999999999999998])]],
        ],
        dt_ms=5.0,
        stim_ids=["chant-α", "ripple_2"],
        neuron_ids=["u1", "u2 (silent)", "ü3"],
        stim_meta=[{"name": "chant d'oiseau 🐦", "type": "song", "sample_rate": 8000.0},
                   {"name": "ripple", "type": "ripple", "subset": "val"}],
        nrn_meta=[{"cell_id": "u1", "area": "A1", "snr": None}, {"cell_id": "u2"}, {"cell_id": "ü3", "depth_um": 750}],
        waveforms=[(rng.normal(size=(1, 240)).astype(np.float32), 8000.0), None],
        transform={"kind": "synthetic", "n_bands": 4, "hop_ms": 5.0, "compression": "none"},
        file_meta={"source": "user", "title": "golden: events", "references": ["strfh5 SPEC.md"]},
    )
    # 2. binned counts needing uint16 (a count of 300), R varies per pair
    out["counts"] = dict(
        stims=[np.arange(2 * 5, dtype=np.float32).reshape(1, 2, 5), np.ones((1, 2, 2), np.float64)],
        responses=[
            [np.array([[0, 1, 2, 0, 300], [1, 0, 0, 0, 0]]), None],
            [np.array([[3, 0]]), np.array([[0, 0], [0, 1], [2, 2]])],
        ],
        dt_ms=10.0,
        stim_meta=[{"name": "a"}, {"name": "b"}],
        nrn_meta=[{"cell_id": "c0"}, {"cell_id": "c1"}],
        file_meta={"source": "user", "title": "golden: binned counts"},
    )
    # 3. continuous float32 with NaN (membrane potential / EEG-like)
    out["continuous"] = dict(
        stims=[rng.normal(size=(1, 3, 4)).astype(np.float32)],
        responses=[[np.array([[-65.25, np.nan, -64.0, 1e-8]], np.float32), None,
                    np.array([[0.5, 0.25, np.nan, np.nan], [1.0, 2.0, 3.0, -4.0]], np.float32)]],
        response_kind="continuous",
        dt_ms=1.0,
        file_meta={"source": "user", "title": "golden: continuous", "response_units": "mV"},
    )
    # 4. waveform stimuli (1, T_audio) with their sample rates and response bins
    out["waveform"] = dict(
        stims=[rng.normal(size=(1, 50)).astype(np.float32), rng.normal(size=(1, 33)).astype(np.float32)],
        stim_kind="waveform",
        n_bins=[5, 3],
        sample_rates=[1000.0, 1100.0],
        responses=[[np.array([[1, 0, 0, 2, 0]])], [np.array([[0, 0, 1]])]],
        dt_ms=10.0,
        file_meta={"source": "user", "title": "golden: waveform stimuli"},
    )
    # 5. video (1, H, W, T) with float32 spike times
    out["video"] = dict(
        stims=[rng.random(size=(1, 3, 2, 4)).astype(np.float32)],
        spike_times=[[[np.array([5.5, 20.0], np.float32), np.array([-3.0], np.float32)], None]],
        dt_ms=1000.0 / 60.0,
        stim_meta=[{"name": "movie-1"}],
        file_meta={"source": "user", "title": "golden: video"},
    )
    if version != "1.0":
        # 6. (1.1) stimuli of different float widths, one beyond float32's range (SPEC 1.1 §5.2),
        #    float32 spike times exactly on bin edges (SPEC 1.1 §11.2)
        out["widths"] = dict(
            stims=[np.array([[[0.5, 1e300, -1e-300]]]), np.array([[[0.25, -2.0]]], np.float16)],
            spike_times=[[[np.array([0.0, 5.0, 10.0, 15.0], np.float32)]], [[np.array([], np.float32)]]],
            dt_ms=5.0,
            stim_meta=[{"name": "wide"}, {"name": "half"}],
            file_meta={"source": "user", "title": "golden: stimulus widths"},
        )
    return out


def expected(kw: dict, path: str, version: str) -> dict:
    """The values the file at ``path`` must read back as (from the inputs; ids/dtypes from the file)."""
    import h5py

    S = len(kw["stims"])
    events = "spike_times" in kw
    rows = kw["spike_times"] if events else kw["responses"]
    N = len(rows[0])
    exp_rows = []
    for s in range(S):
        r = []
        for n in range(N):
            v = rows[s][n]
            if v is None:
                r.append(None)
            elif events:
                r.append({"times": _values(np.concatenate(v)) if v else [], "counts": [len(t) for t in v]})
            else:
                r.append(_values(v))
        exp_rows.append(r)
    with h5py.File(path, "r") as f:
        facts = {
            "uuid": f.attrs["uuid"],
            "responses_dtype": str(h5py.check_vlen_dtype(f["responses"].dtype)),
            "counts_dtype": str(h5py.check_vlen_dtype(f["counts"].dtype)) if "counts" in f else None,
            "repeats_dtype": str(f["repeats"].dtype),
            "digests": [bytes(x).hex() for x in f["integrity/responses"][()]],
        }
    waves = kw.get("waveforms") or [None] * S
    return {
        "format_version": version,
        "encoding": "events" if events else "binned",
        "response_kind": "spike_times" if events else kw.get("response_kind", "counts"),
        "dt_ms": float(kw["dt_ms"]),
        "stim_kind": kw.get("stim_kind", {3: "spectrogram", 2: "waveform", 4: "video"}[kw["stims"][0].ndim]),
        "stim_dims": list(kw["stims"][0].shape[:-1]),
        "stim_ids": kw.get("stim_ids", [str(i) for i in range(S)]),
        "neuron_ids": kw.get("neuron_ids", [str(i) for i in range(N)]),
        "stim_meta": kw.get("stim_meta", [{} for _ in range(S)]),
        "nrn_meta": kw.get("nrn_meta", [{} for _ in range(N)]),
        "file_meta": kw["file_meta"],
        "transform": kw.get("transform"),
        "n_bins": kw.get("n_bins") or [int(x.shape[-1]) for x in kw["stims"]],
        "sample_rates": kw.get("sample_rates"),
        "stims": [{"dtype": str(np.asarray(x).dtype), "shape": list(x.shape), "values": _values(np.asarray(x).reshape(-1))}
                  for x in kw["stims"]],
        "waveforms": [None if w is None else {"sample_rate": w[1], "dtype": str(w[0].dtype), "shape": list(w[0].shape),
                                              "values": _values(w[0].reshape(-1))} for w in waves],
        "rows": exp_rows,
        **facts,
    }


def main(version: str) -> None:
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(HERE))))
    import strfh5

    out = {"strfh5_version": strfh5.__version__, "format_version": version, "files": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for name, kw in cases(version).items():
            fname = f"v{version}_{name}.strf.h5"
            path = os.path.join(tmp, fname)
            strfh5.save(strfh5.contents_from_lists(**kw), path)
            out["files"][fname + ".gz"] = expected(kw, path, version)
            with open(path, "rb") as src, gzip.GzipFile(os.path.join(HERE, fname + ".gz"), "wb", mtime=0) as dst:
                shutil.copyfileobj(src, dst)
    with open(os.path.join(HERE, f"expected_v{version}.json"), "w", encoding="utf-8") as fh:
        json.dump(out, fh, indent=1, ensure_ascii=False)
        fh.write("\n")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "1.0")
