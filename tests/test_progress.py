"""Progress bars (tqdm on stderr) on conversion, materialize and quality: shown when asked, quiet off a terminal."""

from __future__ import annotations

import numpy as np

import strfh5
from strfh5.concatenation import concat, materialize


def _file(tmp_path, name, prefix):
    rng = np.random.default_rng(1)
    ds = strfh5.from_lists([rng.random((1, 3, 8)).astype(np.float32) for _ in range(3)],
                           [[rng.poisson(1.0, (2, 8)) for _ in range(2)] for _ in range(3)], dt_ms=5,
                           neuron_ids=[f"{prefix}{n}" for n in range(2)], stim_ids=[f"{prefix}s{s}" for s in range(3)])
    return strfh5.save(ds, tmp_path / name)


def test_quality_and_materialize_bars(tmp_path, capsys):
    a, b = _file(tmp_path, "a.strf.h5", "a"), _file(tmp_path, "b.strf.h5", "b")
    ds = strfh5.load(a)
    ds.compute_neuron_quality(max_ccmax_iters=4)  # default: stderr is not a terminal under pytest
    assert capsys.readouterr().err == ""
    ds.compute_neuron_quality(max_ccmax_iters=4, progress=True)
    assert "quality" in capsys.readouterr().err
    ab = concat([a, b], tmp_path / "ab.strf.h5")
    materialize(ab, tmp_path / "m1.strf.h5")
    assert capsys.readouterr().err == ""
    materialize(ab, tmp_path / "m2.strf.h5", progress=True)
    err = capsys.readouterr().err
    assert "materialize m2.strf.h5" in err and "/6 " in err
    assert strfh5.validate(tmp_path / "m2.strf.h5").ok


def test_conversion_bar_counts_rows(tmp_path, capsys, monkeypatch):
    import converters.base as base

    shown = []

    class Bar:
        def __init__(self, **kw):
            shown.append(kw)
            self.n = 0

        def update(self, k=1):
            self.n += k

        def close(self):
            shown.append(self.n)

    monkeypatch.setattr(base, "tqdm", Bar)
    with base.validated_output(tmp_path / "c.strf.h5", encoding="binned", dt_ms=5.0, stim_kind="spectrogram",
                               stim_dims=(1, 2), neuron_ids=["n0"]) as w:
        for s in range(4):
            w.add_stimulus(np.zeros((1, 2, 6), np.float32), id=f"s{s}")
            w.write_row(s, [np.ones((1, 6))])
    assert shown[0]["disable"] is None and shown[0]["desc"] == "convert c.strf.h5" and shown[-1] == 4
    assert strfh5.validate(tmp_path / "c.strf.h5").ok
