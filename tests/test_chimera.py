"""The cross-species chimera (issue 14) from files converted here from the real release pieces.

AA1: the real CRCNS zebra-finch cells and songs of ``../shared/data/real/crcns-aa`` laid out as the AA1
release (``mld_good`` in ``MLd_cells``, ``l2a_good`` in ``Field_L_cells``; ``ov_good`` is neither AA1
area and is left out), converted by the ``crcns-aa1`` converter with its defaults — 1 ms, 32 mel bands,
waveforms kept.  NS1: the real NS1 clusters converted by the ``ns1`` converter (5 ms, 34 log bands);
its 12 DRC stimuli have no waveform in the release, so the converter leaves them out and the file holds
the 20 natural sounds (their waveforms are not needed by the chimera and are not kept here, to keep
the test short).  Skipped when the real pieces are absent.
"""

from __future__ import annotations

import importlib.util
import math
import os
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

import strfh5
from strfh5.converters import crcns_aa1, ns1
from strfh5.spectrogram import compute_spectrogram
from test_spectrogram_load import assert_close, ref_spectrogram

ROOT = Path(__file__).resolve().parent.parent


def _example():
    spec = importlib.util.spec_from_file_location("chimera_example", ROOT / "examples" / "chimera.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    from conftest import real_data_dir

    real = real_data_dir()
    if real is None:
        pytest.skip("real recordings not found: ../shared/data/real is absent (set STRFH5_REAL_DATA)")
    tmp = tmp_path_factory.mktemp("chimera")
    src = real / "crcns-aa"
    raw = tmp / "aa1"
    (raw / "all_stims").mkdir(parents=True)
    os.symlink(src / "all_stims", raw / "all_stims" / "conspecific")
    for area, cell in (("MLd_cells", "mld_good"), ("Field_L_cells", "l2a_good")):
        (raw / area).mkdir()
        os.symlink(src / "all_cells" / cell, raw / area / cell)
    aa1 = tmp / "aa1.strf.h5"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        crcns_aa1.convert(raw, aa1, stim_classes=["conspecific"])
        ns = tmp / "ns1.strf.h5"
        ns1.convert(real / "ns1", ns, partial=True, keep_waveform=False)
    return aa1, ns


def test_converted_aa1_keeps_int16_waveforms_and_recomputes_exactly(files):
    aa1, _ = files
    assert strfh5.validate(aa1).ok
    i = strfh5.info(aa1)
    assert i["waveforms"]["kept"] == i["S"] == 20 and i["waveforms"]["dtypes"] == ["int16 + scale"]
    c = strfh5.FileContents(aa1)
    for s in (0, 7):
        w, sr = c.waveform(s)
        assert sr == 32000.0 and w.dtype == np.float32
        # the converter's own parameters: bit-identical to the stored spectrogram
        assert np.array_equal(compute_spectrogram(w, sr, c.info.transform), c.stim(s))
        # a second implementation of the recipe reproduces the stored one within the stated tolerance
        t = c.info.transform
        assert_close(c.stim(s), ref_spectrogram(w, sr, n_bands=t["n_bands"], f_min=t["f_min"], f_max=t["f_max"],
                                                window_ms=t["window_ms"], hop_ms=t["hop_ms"]))
    c.close()


def test_chimera_loads_concatenates_and_trains_eager_and_lazy(files, capsys):
    aa1, ns = files
    ex = _example()
    a = strfh5.load(aa1, dt_ms=5, n_bands=34)
    n = strfh5.load(ns)
    for lazy in (False, True):
        ds = ex.load_chimera(str(aa1), str(ns), lazy)
        assert ds.F == 34 and ds.get_dt() == 5 and ds.lazy == lazy
        assert ds.N_neurons == a.N_neurons + n.N_neurons == 2 + 12 and ds.get_S() == 20 + 20
        # the finch block is AA1 recomputed at 5 ms / 34 bands, the ferret block NS1 as stored
        assert torch.equal(ds.stims[3], a.stims[3]) and torch.equal(ds.stims[25], n.stims[5])
        assert torch.equal(ds.responses[3][1], a.responses[3][1])
        assert torch.equal(ds.responses[25][2 + 4], n.responses[5][4])
        assert bool(torch.isnan(ds.responses[25][0]).all())  # cross blocks are missing
        losses = ex.train(ds, steps=3, workers=1 if lazy else 0)
        assert len(losses) == 3 and all(math.isfinite(x) for x in losses)
        ds.close()
    assert "chimera:" in capsys.readouterr().out
