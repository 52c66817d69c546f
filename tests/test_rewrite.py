"""strfh5.rewrite / ``strfh5 rewrite``: a file at other settings or a subset of it (issue 14)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import strfh5
from strfh5.cli.main import main
from strfh5.errors import BinningError, InvalidDataError, SelectionError
from test_spectrogram_load import _file


def _same_dataset(a, b, neurons_b_in_a):
    assert a.get_S() == b.get_S() and a.F == b.F and a.get_dt() == b.get_dt()
    for s in range(a.get_S()):
        assert torch.equal(a.stims[s], b.stims[s])
        for j, n in enumerate(neurons_b_in_a):
            assert torch.equal(a.responses[s][n], b.responses[s][j])


def test_events_to_binned_at_5ms_with_34_bands_and_a_subset(tmp_path):
    path, _, _ = _file(tmp_path)
    out = strfh5.rewrite(path, tmp_path / "o.strf.h5", dt_ms=5, encoding="binned", n_bands=34,
                         select=["neuron:id=b"])
    assert strfh5.validate(out, checksums=True).ok
    new = strfh5.load(out)
    assert new.encoding == "binned" and new.neuron_ids == ["b"] and new.F == 34 and new.transforms == []
    _same_dataset(strfh5.load(path, dt_ms=5, n_bands=34), new, [1])
    src, dst = strfh5.FileContents(path), strfh5.FileContents(out)
    rec = dst.info.metadata["provenance"]["rewrites"][-1]
    assert rec["source_uuid"] == src.info.uuid and rec["source_file"] == "w.strf.h5"
    assert rec["parameters"] == {"dt_ms": 5, "encoding": "binned", "n_bands": 34, "select": ["neuron:id=b"],
                                 "keep_waveforms": True}
    assert dst.info.transform["n_bands"] == 34 and dst.info.transform["hop_ms"] == 5.0
    assert dst.has_waveform(0) and np.array_equal(dst.waveform(2)[0], src.waveform(2)[0])
    src.close()
    dst.close()


def test_events_at_a_non_multiple_keep_spike_times_and_recompute(tmp_path):
    path, _, _ = _file(tmp_path)
    out = strfh5.rewrite(path, tmp_path / "o.strf.h5", dt_ms=2.5, select="stim:id=s0,s2")
    assert strfh5.validate(out).ok
    src, dst = strfh5.FileContents(path), strfh5.FileContents(out)
    assert dst.info.dt_ms == 2.5 and dst.stim_ids == ["s0", "s2"] and dst.info.transform["hop_ms"] == 2.5
    for j, s in enumerate((0, 2)):
        for a, b in zip(src.row(s), dst.row(j)):
            assert np.array_equal(a.times, b.times) and np.array_equal(a.counts, b.counts)
    read = strfh5.load(path, dt_ms=2.5)
    again = strfh5.load(out)
    assert torch.equal(read.stims[2], again.stims[1]) and torch.equal(read.responses[2][0], again.responses[1][0])
    src.close()
    dst.close()


def test_binned_file_at_a_multiple_and_refusals(tmp_path):
    rng = np.random.default_rng(0)
    counts = [rng.integers(0, 4, (3, 20)), rng.integers(0, 4, (2, 20))]
    path = strfh5.save(strfh5.from_lists([np.ones((1, 2, 20), np.float32)], [counts], dt_ms=2,
                                         nrn_meta=[{"area": "A1"}, {"area": "PEG"}], neuron_ids=["x", "y"]),
                       tmp_path / "b.strf.h5")
    out = strfh5.rewrite(path, tmp_path / "o.strf.h5", dt_ms=6, select="neuron:area=PEG")
    assert strfh5.validate(out).ok
    got = strfh5.load(out).responses[0][0].numpy()
    assert np.array_equal(got, counts[1][:, :18].reshape(2, 6, 3).sum(-1))
    tr = strfh5.FileContents(out).info.transform
    assert tr is None  # from_lists stored no recipe: nothing to describe
    with pytest.raises(BinningError, match="cannot be rewritten as events"):
        strfh5.rewrite(path, tmp_path / "e.strf.h5", encoding="events")
    with pytest.raises(BinningError, match="integer multiple"):
        strfh5.rewrite(path, tmp_path / "e.strf.h5", dt_ms=3)
    with pytest.raises(InvalidDataError, match="is the input file"):
        strfh5.rewrite(path, path, overwrite=True)
    with pytest.raises(SelectionError, match="metadata key 'depth'"):
        strfh5.rewrite(path, tmp_path / "e.strf.h5", select="neuron:depth=3")
    with pytest.raises(SelectionError, match=r"\['z'\]"):
        strfh5.rewrite(path, tmp_path / "e.strf.h5", neurons=["z"])
    with pytest.raises(SelectionError, match="nothing to write"):
        strfh5.rewrite(path, tmp_path / "e.strf.h5", select=["neuron:area=A1", "neuron:id=y"])
    with pytest.raises(SelectionError, match="stim:KEY"):
        strfh5.rewrite(path, tmp_path / "e.strf.h5", select="area=A1")


def test_without_waveforms_pooled_and_recorded_or_refused(tmp_path):
    path, stims, _ = _file(tmp_path, keep=False)
    out = strfh5.rewrite(path, tmp_path / "o.strf.h5", dt_ms=2)
    tr = strfh5.FileContents(out).info.transform
    assert tr["hop_ms"] == 2.0 and tr["params"]["pooled_frames"] == 2 and tr["params"]["pooled_from_hop_ms"] == 1.0
    want = stims[0][..., :500].astype(np.float64).reshape(1, 16, 250, 2).mean(-1).astype(np.float32)
    assert np.array_equal(strfh5.load(out).stims[0].numpy(), want)
    with pytest.raises(BinningError, match="--keep-waveform"):
        strfh5.rewrite(path, tmp_path / "n.strf.h5", n_bands=8)


def test_cli_rewrite(tmp_path, capsys):
    path, _, _ = _file(tmp_path)
    out = tmp_path / "c.strf.h5"
    assert main(["rewrite", str(path), "-o", str(out), "--dt-ms", "5", "--n-bands", "20", "--encoding", "binned",
                 "--select", "stim:id=s1"]) == 0
    cap = capsys.readouterr()
    assert "1 stimuli x 2 neurons, binned at dt = 5 ms" in cap.out and cap.err == ""  # no bar off a terminal
    assert strfh5.load(out).F == 20
    assert main(["rewrite", str(path), "-o", str(out), "--n-bands", "0", "--overwrite"]) == 2
    assert "n_bands" in capsys.readouterr().err
