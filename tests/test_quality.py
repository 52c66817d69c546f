"""compute_neuron_quality (strfh5.quality) and the `strfh5 quality` command."""

from __future__ import annotations

import json
import math

import h5py
import numpy as np
import pytest
import torch

import reference_metrics as ref
import strfh5
from strfh5 import metrics as M
from strfh5 import quality as Q
from strfh5 import schema as _schema
from strfh5.cli.main import main as cli_main
from strfh5.errors import MetricError


class StandIn:
    """The part of NeuralDataset that compute_neuron_quality uses."""

    def __init__(self, rows, dt=5.0):
        self.rows, self.dt = rows, dt
        self.nrn_meta = [{"cell_id": f"c{n}"} for n in range(len(rows[0]))]

    def get_S(self):
        return len(self.rows)

    def get_N(self):
        return len(self.rows[0])

    def row_tensors(self, s, neurons=None):
        return [None if r is None else torch.as_tensor(r, dtype=torch.float32) for r in self.rows[s]]


def _rows(seed=0, S=5, N=7):
    """Ragged rows: varying R per pair, missing pairs, an R=1 neuron, an empty neuron, a constant one."""
    rng = np.random.default_rng(seed)
    T = [int(t) for t in rng.integers(8, 40, size=S)]
    rate = [rng.gamma(1.0, 2.0, size=(N, T[s])) for s in range(S)]
    rows = []
    for s in range(S):
        row = []
        for n in range(N):
            if n == 5 or (s + n) % 4 == 3:
                row.append(None)  # neuron 5 never recorded
                continue
            R = 1 if n == 4 else int(rng.integers(2, 13))
            if n == 6:
                row.append(np.full((R, T[s]), 2.0, np.float32))  # constant neuron
            else:
                row.append(rng.poisson(rate[s][n], size=(R, T[s])).astype(np.float32))
        rows.append(row)
    return rows


def test_matches_metrics_pooling_and_loop_reference():
    rows = _rows()
    ds = StandIn(rows)
    out = Q.compute_neuron_quality(ds)
    want = ref.reference_neuron_quality(StandIn(rows))
    N = ds.get_N()
    assert out["snr"].shape == out["ccmax"].shape == (N,)
    for n in range(N):
        ys = [torch.as_tensor(rows[s][n], dtype=torch.float32) for s in range(len(rows)) if rows[s][n] is not None]
        for key, fn in (("snr", M.snr), ("ccmax", M.ccmax)):
            got = float(out[key][n])
            expect = float(want[key][n])
            assert (math.isnan(got) and math.isnan(expect)) or abs(got - expect) <= 1e-6 * max(1, abs(expect)), (key, n)
            if ys:
                assert math.isclose(float(fn(ys)), got, rel_tol=1e-12, abs_tol=1e-12) or (math.isnan(got))
    # documented edge cases
    assert float(out["ccmax"][4]) == 1.0 and math.isnan(float(out["snr"][4]))  # R = 1 everywhere
    assert math.isnan(float(out["ccmax"][5])) and math.isnan(float(out["snr"][5]))  # no data
    assert math.isnan(float(out["ccmax"][6])) and math.isnan(float(out["snr"][6]))  # constant
    assert np.isfinite(out["ccmax"][:4].numpy()).any()


def test_nrn_meta_plain_floats_none_for_nonfinite_and_schema_valid():
    ds = StandIn(_rows(1))
    out = Q.compute_neuron_quality(ds)
    for n, meta in enumerate(ds.nrn_meta):
        assert meta["cell_id"] == f"c{n}"  # existing keys kept
        for key in ("snr", "ccmax"):
            v = float(out[key][n])
            if math.isfinite(v):
                assert type(meta[key]) is float and meta[key] == v
            else:
                assert meta[key] is None
        _schema.validate_record(meta, _schema.CORE["neuron"], f"neuron {n}")
        json.loads(_schema.dumps(meta, "meta"))


def test_identical_repeats_store_none_for_infinite_snr():
    sig = np.random.default_rng(0).normal(size=30).astype(np.float32)
    ds = StandIn([[np.tile(sig, (4, 1))]])
    out = Q.compute_neuron_quality(ds)
    assert float(out["snr"][0]) == math.inf and abs(float(out["ccmax"][0]) - 1) < 1e-12
    assert ds.nrn_meta[0]["snr"] is None and ds.nrn_meta[0]["ccmax"] == pytest.approx(1.0)


def test_chunking_and_seed(monkeypatch):
    rows = _rows(2, S=3, N=30)
    a = Q.compute_neuron_quality(StandIn(rows), max_ccmax_iters=5, seed=1)
    monkeypatch.setattr(Q, "CHUNK_ELEMENTS", 50)  # one neuron per chunk
    b = Q.compute_neuron_quality(StandIn(rows), max_ccmax_iters=5, seed=1)
    for k in a:
        assert torch.allclose(a[k], b[k], rtol=1e-12, atol=1e-12, equal_nan=True)
    c = Q.compute_neuron_quality(StandIn(rows), max_ccmax_iters=5, seed=2)
    assert not torch.allclose(a["ccmax"], c["ccmax"], equal_nan=True)
    assert torch.equal(a["snr"].isnan(), c["snr"].isnan())


def test_bad_arguments():
    ds = StandIn(_rows())
    with pytest.raises(MetricError, match="max_ccmax_iters"):
        Q.compute_neuron_quality(ds, max_ccmax_iters=0)
    with pytest.raises(MetricError):
        Q.compute_neuron_quality(ds, max_ccmax_iters="many")


def _binned_lists(seed=3, S=4, N=6):
    rng = np.random.default_rng(seed)
    stims = [rng.random((1, 5, int(T))).astype(np.float32) for T in rng.integers(10, 30, size=S)]
    resp = []
    for s in range(S):
        T = stims[s].shape[-1]
        rate = rng.gamma(1.0, 2.0, size=T)
        resp.append([None if (s + n) % 5 == 4 else rng.poisson(rate, size=(int(rng.integers(1, 9)), T)) for n in range(N)])
    return stims, resp


def test_real_datasets_eager_and_lazy(tmp_path):
    stims, resp = _binned_lists()
    ds = strfh5.from_lists(stims, resp, dt_ms=5)
    want = ref.reference_neuron_quality(ds)
    out = Q.compute_neuron_quality(ds)
    np.testing.assert_allclose(out["snr"].numpy(), want["snr"], rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(out["ccmax"].numpy(), want["ccmax"], rtol=1e-6, atol=1e-9)
    path = tmp_path / "q.strf.h5"
    strfh5.save(ds, path)
    with strfh5.load(path, lazy=True) as lazy:
        got = lazy.compute_neuron_quality()  # the dataset method delegates here
        assert [m.get("snr") for m in lazy.nrn_meta] == [m["snr"] for m in ds.nrn_meta]
    for k in out:
        assert torch.allclose(got[k], out[k], equal_nan=True)
    eager = strfh5.load(path)
    again = Q.compute_neuron_quality(eager)
    for k in out:
        assert torch.allclose(again[k], out[k], equal_nan=True)


def test_events_file_at_two_bin_widths(tmp_path):
    rng = np.random.default_rng(4)
    stims = [rng.random((1, 3, 40)).astype(np.float32) for _ in range(2)]
    spikes = [[[np.sort(rng.uniform(0, 200, size=int(rng.integers(5, 30)))) for _ in range(6)] for _ in range(3)]
              for _ in range(2)]
    path = tmp_path / "ev.strf.h5"
    strfh5.save(strfh5.from_lists(stims, spike_times=spikes, dt_ms=5), path)
    fine = Q.compute_neuron_quality(strfh5.load(path, lazy=True))
    coarse_ds = strfh5.load(path, lazy=True, dt_ms=10)
    coarse = Q.compute_neuron_quality(coarse_ds)
    want = ref.reference_neuron_quality(coarse_ds)
    np.testing.assert_allclose(coarse["snr"].numpy(), want["snr"], rtol=1e-6)
    assert not torch.allclose(fine["snr"], coarse["snr"])


# ------------------------------------------------------------------- CLI
def _file(tmp_path, name="c.strf.h5"):
    stims, resp = _binned_lists(5)
    path = tmp_path / name
    strfh5.save(strfh5.from_lists(stims, resp, dt_ms=5, nrn_meta=[{"cell_id": f"u{n}"} for n in range(6)]), path)
    return path


def test_cli_table_json_and_write(tmp_path, capsys):
    path = _file(tmp_path)
    with strfh5.load(path, lazy=True) as lazy:  # closed: --write below reopens the file for writing
        expected = Q.compute_neuron_quality(lazy, max_ccmax_iters=20, seed=3)
    before = path.read_bytes()
    assert cli_main(["quality", str(path), "--max-ccmax-iters", "20", "--seed", "3"]) == 0
    text = capsys.readouterr().out
    assert "ccmax" in text and "6 neurons" in text and "median" in text
    assert path.read_bytes() == before  # no --write: file untouched
    assert cli_main(["quality", str(path), "--json", "--max-ccmax-iters", "20", "--seed", "3"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [n["id"] for n in doc["neurons"]] == [f"u{i}" for i in range(6)]  # from_lists took the cell_ids
    for n in doc["neurons"]:
        v = float(expected["ccmax"][n["index"]])
        assert (n["ccmax"] is None and not math.isfinite(v)) or n["ccmax"] == pytest.approx(v, rel=1e-12)
    assert doc["parameters"]["max_ccmax_iters"] == 20 and doc["parameters"]["seed"] == 3
    assert doc["summary"]["n_neurons"] == 6

    assert cli_main(["quality", str(path), "--write", "--max-ccmax-iters", "20", "--seed", "3"]) == 0
    capsys.readouterr()
    back = strfh5.load(path)
    for n, meta in enumerate(back.nrn_meta):
        assert meta["cell_id"] == f"u{n}"
        v = float(expected["snr"][n])
        assert (meta["snr"] is None) if not math.isfinite(v) else meta["snr"] == pytest.approx(v, rel=1e-12)
    with h5py.File(path, "r") as f:
        file_meta = json.loads(f["metadata"][()])
    assert file_meta["quality"]["max_ccmax_iters"] == 20 and file_meta["quality"]["seed"] == 3
    assert file_meta["quality"]["dt_ms"] == 5.0 and file_meta["quality"]["library"].startswith("strfh5")
    report = strfh5.validate(path)
    assert not [x for x in report.findings if x.severity == "error"]


def test_cli_refuses_write_on_concatenated_and_bad_args(tmp_path, capsys):
    a, b = _file(tmp_path, "a.strf.h5"), _file(tmp_path, "b.strf.h5")
    with h5py.File(b, "r+") as f:  # distinct neuron ids for the concatenation
        ids = [f"b{i}" for i in range(6)]
        f["neurons/ids"][...] = np.array(ids, dtype=object)
    out = tmp_path / "ab.strf.h5"
    strfh5.concat([a, b], out)
    before = out.read_bytes()
    assert cli_main(["quality", str(out), "--write"]) == 2
    err = capsys.readouterr().err
    assert "concatenated" in err and "each source" in err
    assert out.read_bytes() == before
    assert cli_main(["quality", str(out)]) == 0  # reading is fine
    capsys.readouterr()
    assert cli_main(["quality", str(a), "--max-ccmax-iters", "0"]) == 2
    assert cli_main(["quality", str(tmp_path / "nope.strf.h5")]) == 2
