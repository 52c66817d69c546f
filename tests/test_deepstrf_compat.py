"""deepSTRF code runs unchanged: load filters, checks at open, argument errors, validate(), reprs (issue 14)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import strfh5
from strfh5.errors import BinningError, DatasetContractError, SelectionError, TransformError


def _spikes(rng, R):
    return [np.sort(rng.random(rng.integers(0, 5)) * 50.0) for _ in range(R)]


@pytest.fixture
def aa_file(tmp_path):
    rng = np.random.default_rng(0)
    S, N = 6, 5
    areas = ["Field_L", "MLd", "MLd", "OV", "Field_L"]
    types = ["conspecific", "flatrip", "songrip", "conspecific", "flatrip", "conspecific"]
    spikes = [[None if (s in (1, 4) and n == 3) else _spikes(rng, 3) for n in range(N)] for s in range(S)]
    ds = strfh5.from_lists([rng.random((1, 4, 10)).astype(np.float32) for _ in range(S)], spike_times=spikes,
                           dt_ms=5, nrn_meta=[{"cell_id": f"c{n}", "area": a} for n, a in enumerate(areas)],
                           stim_meta=[{"name": f"s{s}.wav", "type": t} for s, t in enumerate(types)])
    return strfh5.save(ds, tmp_path / "aa.strf.h5"), ds


@pytest.mark.parametrize("lazy", [False, True])
def test_load_takes_the_constructor_filters(aa_file, lazy):
    path, full = aa_file
    ds = strfh5.load(path, areas=("Field_L", "MLd"), stimuli=("conspecific", "flatrip"), lazy=lazy)
    assert ds.neuron_ids == ["c0", "c1", "c2", "c4"]
    assert ds.stim_ids == ["s0.wav", "s1.wav", "s3.wav", "s4.wav", "s5.wav"]
    assert ds.lazy == lazy and ds.nrn_masks.all()
    for s, sid in enumerate(ds.stim_ids):
        fs = full.stim_ids.index(sid)
        assert torch.equal(ds.stims[s], full.stims[fs])
        for n, nid in enumerate(ds.neuron_ids):
            assert torch.equal(ds.responses[s][n], full.responses[fs][full.neuron_ids.index(nid)])
    # one value; values absent from the file are accepted when others match (as deepSTRF's constructors do)
    assert strfh5.load(path, areas="OV", lazy=lazy).neuron_ids == ["c3"]
    assert strfh5.load(path, areas=("OV", "CM"), lazy=lazy).get_S() == 4  # OV heard no flatrip
    with pytest.raises(SelectionError, match=r"matches no record's 'area'; values present: 'Field_L', 'MLd', 'OV'"):
        strfh5.load(path, areas="mld", lazy=lazy)
    with pytest.raises(SelectionError, match="leaves no recorded"):
        strfh5.load(path, areas="OV", stimuli="flatrip", lazy=lazy)
    with pytest.raises(SelectionError, match="is empty"):
        strfh5.load(path, stimuli=[], lazy=lazy)


def test_subset_filter_and_all(tmp_path):
    ds = strfh5.from_lists([np.zeros((1, 2, 4), np.float32)] * 3, [[np.ones((1, 4))]] * 3, dt_ms=10,
                           stim_meta=[{"subset": "est"}, {"subset": "val"}, {"subset": "est"}])
    p = strfh5.save(ds, tmp_path / "n.strf.h5")
    assert strfh5.load(p, subset="val").get_S() == 1 and strfh5.load(p, subset="all").get_S() == 3
    assert strfh5.load(p, subset="est", lazy=True).stim_ids == [ds.stim_ids[0], ds.stim_ids[2]]


def test_lazy_load_checks_dt_at_open(aa_file, tmp_path):
    path, _ = aa_file
    with pytest.raises(BinningError, match="no stored waveform"):
        strfh5.load(path, lazy=True, dt_ms=3)  # spectrograms cannot be recomputed: no waveform kept
    video = strfh5.from_lists([np.zeros((1, 2, 2, 6), np.float32)], spike_times=[[[np.array([3.0, 41.0])]]],
                              dt_ms=10)
    vp = strfh5.save(video, tmp_path / "v.strf.h5")
    with pytest.raises(BinningError, match="frames cannot be pooled or repeated"):
        strfh5.load(vp, lazy=True, dt_ms=15)
    assert strfh5.load(vp, lazy=True, dt_ms=20).stims[0].shape[-1] == 3


def test_argument_errors_name_the_argument(aa_file):
    path, _ = aa_file
    for bad in ("5", True, [5], None if False else "five"):
        with pytest.raises(BinningError, match=r"dt_ms must be a positive number \(int or float\), got"):
            strfh5.load(path, dt_ms=bad)
    with pytest.raises(BinningError, match="dt_ms must be a positive number"):
        strfh5.load(path, dt_ms=-5)
    ds = strfh5.load(path, dt_ms=np.int64(10))
    assert ds.dt == 10 and isinstance(ds.dt, int) and "dt_ms=10" in repr(ds)


def test_validate_catches_edits_and_is_an_assertion(aa_file):
    _, ds = aa_file
    assert ds.validate() is None
    ds.responses[0][0] = torch.zeros(3, 9)
    with pytest.raises(AssertionError, match=r"responses\[0\]\[0\] has T = 9 bins"):
        ds.validate()
    ds.responses[0][0] = torch.full((1, 1), float("nan"))
    with pytest.raises(DatasetContractError, match=r"nrn_masks\[0, 0\] is True"):
        ds.validate()
    ds._invalidate_nrn_masks()
    ds.validate()
    ds.stims[2] = ds.stims[2].clone()
    ds.stims[2][0, 0, 0] = float("nan")
    with pytest.raises(DatasetContractError, match=r"stims\[2\] contains NaN"):
        ds.validate()
    ds.nrn_meta.append({})
    with pytest.raises(DatasetContractError, match=r"len\(nrn_meta\) is 6, expected 5"):
        ds.validate(deep=False)


def test_signal_power_matches_the_metric(aa_file):
    path, _ = aa_file
    ds = strfh5.load(path, lazy=True)
    sp = ds.get_responses_signal_power()
    assert sp.shape == (5, 6) and torch.isnan(sp[3, 1]) and torch.isnan(sp[3, 4])
    want = strfh5.metrics.signal_power(ds.responses[2][4].double())
    assert torch.allclose(sp[4, 2], want.reshape(()))
    dense = torch.stack([torch.stack([ds.responses[s][n] for s in (0, 2, 3, 5)]) for n in range(5)])
    assert torch.allclose(ds.get_responses_signal_power(dense), sp[:, [0, 2, 3, 5]], equal_nan=True)
    with pytest.raises(DatasetContractError, match=r"\(N, S, R, T\) tensor"):
        ds.get_responses_signal_power(torch.zeros(3, 4))


def test_video_helpers_as_deepstrf_calls_them():
    v = strfh5.from_lists([np.arange(2 * 3 * 7, dtype=np.float32).reshape(1, 2, 3, 7)], [[np.ones((2, 7))]],
                          dt_ms=10)
    x = v.stims[0]
    out, T = v.change_video_temporal_resolution(x, 10, 30)
    assert T == 3 and torch.equal(out, x[..., [0, 3, 6]])
    assert v.change_video_temporal_resolution(x, 10, 10) == (x, 7)
    with pytest.raises(TransformError, match="native_dt must be a positive number"):
        v.change_video_temporal_resolution(x, "10", 30)
    g = torch.Generator().manual_seed(0)
    noisy = v.add_noise_to_videos(x, noise_level=0.5, generator=g)
    assert torch.equal(noisy, x + 0.5 * torch.randn(x.shape, generator=torch.Generator().manual_seed(0)))
    assert torch.equal(v.stims[0], x)  # pure: the dataset is unchanged


def test_reprs_name_file_shape_and_state(aa_file):
    path, _ = aa_file
    ds = strfh5.load(path, dt_ms=10, lazy=True)
    text = repr(ds)
    assert text.startswith("AudioNeuralDataset(N_neurons=5, selected=0, N_stims=6, dt_ms=10, F=4, ")
    for part in ("encoding='events'", "stored dt_ms=5", f"file={str(path)!r}", "lazy=True"):
        assert part in text
    ds.smooth_responses()
    ds.select_stims([0, 2])
    ds.select_neuron(1)
    text = repr(ds)
    assert "transforms=['smooth_responses']" in text and "stims selected=2" in text and "iterable=2" in text
    item = ds[0]
    assert repr(item) == ("Item(stims=<tensor (1, 4, 5) float32>, responses=<1 tensors of shapes [(3, 5)]>, "
                          "mask=<tensor (1,) bool>, stim_meta={'name': 's0.wav', 'type': 'conspecific'}, "
                          "neuron_indices=[1], stim_index=0)")
    batch = strfh5.neural_collate([ds[0], ds[1]])
    assert "tensor(" not in repr(batch) and "responses=<tensor (2, 1, 3, 5) float32>" in repr(batch)
