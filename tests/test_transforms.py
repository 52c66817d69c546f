"""Reader-side transforms: smoothing, normalisation, standardisation; eager == lazy; no double application."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import strfh5
from strfh5.errors import TransformError
from strfh5.transforms import hann_window, smooth_rows, smooth_window_bins


def _pair(tmp_path, continuous=False):
    rng = np.random.default_rng(0)
    Ts = [30, 25, 40]
    stims = [rng.random((1, 4, T), dtype=np.float32) * (1 + np.arange(4)[None, :, None]) for T in Ts]
    resp = []
    for s, T in enumerate(Ts):
        row = []
        for n in range(3):
            if (s, n) == (1, 2):
                row.append(None)
            elif continuous:
                a = rng.standard_normal((2, T)).astype(np.float32)
                a[0, 3:6] = np.nan
                row.append(a)
            else:
                row.append(rng.poisson(1.0 + n, (1 + s, T)))
        resp.append(row)
    ds = strfh5.from_lists(stims, resp, dt_ms=5, response_kind="continuous" if continuous else None)
    path = strfh5.save(ds, tmp_path / (("c" if continuous else "n") + ".strf.h5"))
    return strfh5.load(path), strfh5.load(path, lazy=True), resp


def _same(a, b):
    return a.shape == b.shape and torch.equal(torch.nan_to_num(a, 12345.0), torch.nan_to_num(b, 12345.0))


def _assert_identical(e, l):
    assert len(e) == len(l)
    for i in range(len(e)):
        x, y = e[i], l[i]
        assert _same(x["stims"], y["stims"])
        assert all(_same(a, b) for a, b in zip(x["responses"], y["responses"]))
    for s in range(e.get_S()):
        for n in range(e.N_neurons):
            assert _same(e.responses[s][n], l.responses[s][n])


def test_window_bins_rounding():
    assert smooth_window_bins(21, 5) == 5  # 4.2 -> 5
    assert smooth_window_bins(21, 1) == 21
    assert smooth_window_bins(21, 10) == 3  # 2.1 -> 3
    assert smooth_window_bins(4, 5) == 1
    with pytest.raises(TransformError):
        smooth_window_bins(0, 5)
    w = hann_window(5)
    assert w.size == 5 and abs(w.sum() - 1) < 1e-12 and (w > 0).all() and w[2] == w.max()


def test_smooth_rows_nan_aware_against_reference():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 20))
    x[1, 5:8] = np.nan
    w = hann_window(5)
    got = smooth_rows(torch.from_numpy(x.astype(np.float32)), w).numpy()
    xf = x.astype(np.float32).astype(np.float64)
    for r in range(3):
        for t in range(20):
            if np.isnan(xf[r, t]):
                assert np.isnan(got[r, t])
                continue
            num = den = 0.0
            for k in range(5):
                j = t + k - 2
                if 0 <= j < 20 and not np.isnan(xf[r, j]):
                    num += w[k] * xf[r, j]
                    den += w[k]
            assert got[r, t] == pytest.approx(num / den, rel=1e-6, abs=1e-6)


@pytest.mark.parametrize("continuous", [False, True])
def test_eager_and_lazy_transforms_identical(tmp_path, continuous):
    e, l, resp = _pair(tmp_path, continuous)
    for d in (e, l):
        sm = d.smooth_responses(window_ms=21)
        assert sm["window_bins"] == 5
    _assert_identical(e, l)
    ne = e.normalize_responses("zscore", stim_indices=[0, 2])
    nl = l.normalize_responses("zscore", stim_indices=[0, 2])
    assert torch.equal(ne["scale"], nl["scale"]) and torch.equal(ne["offset"], nl["offset"])
    assert ne["stim_indices"] == [0, 2] and ne["method"] == "zscore"
    se = e.standardize_stims(stim_indices=[0, 1])
    sl = l.standardize_stims(stim_indices=[0, 1])
    assert torch.equal(se["mean"], sl["mean"]) and tuple(se["mean"].shape) == (1, 4, 1)
    _assert_identical(e, l)
    assert [t["name"] for t in e.transforms] == ["smooth_responses", "normalize_responses", "standardize_stims"]
    # sentinels untouched
    assert e.responses[1][2].shape == (1, 1) and torch.isnan(e.responses[1][2]).all()
    # the statistics: z-scored on stims 0 and 2 -> mean 0, std 1 over those samples
    for n in range(3):
        vals = torch.cat([e.responses[s][n].reshape(-1) for s in (0, 2)])
        vals = vals[~torch.isnan(vals)].double()
        assert abs(vals.mean().item()) < 1e-5 and abs(vals.std(unbiased=False).item() - 1) < 1e-4
    x = torch.cat([e.stims[s] for s in (0, 1)], dim=-1).double()
    assert torch.allclose(x.mean(-1), torch.zeros(1, 4, dtype=torch.float64), atol=1e-5)
    assert torch.allclose(x.std(-1, unbiased=False), torch.ones(1, 4, dtype=torch.float64), atol=1e-4)


def test_normalize_max_and_scalar_standardize(tmp_path):
    e, l, resp = _pair(tmp_path)
    out = e.normalize_responses("max")
    want = [max(resp[s][n].max() for s in range(3) if resp[s][n] is not None) for n in range(3)]
    np.testing.assert_allclose(out["scale"].numpy(), want)
    assert out["offset"].abs().sum() == 0 and out["stim_indices"] is None
    assert max(e.responses[s][n].max().item() for s in range(3) for n in range(3) if resp[s][n] is not None) == 1.0
    st = e.standardize_stims(per_band=False)
    assert st["mean"].ndim == 0 and st["per_band"] is False
    assert e.stim_normalization is not None and e.response_normalization is not None


def test_double_application_refused(tmp_path):
    e, l, _ = _pair(tmp_path)
    for d in (e, l):
        d.normalize_responses()
        with pytest.raises(TransformError, match="already applied"):
            d.normalize_responses("zscore")
        d.normalize_responses("zscore", force=True)
        d.standardize_stims()
        with pytest.raises(TransformError, match="force=True"):
            d.standardize_stims()
        d.smooth_responses()
        with pytest.raises(TransformError):
            d.smooth_responses()
    with pytest.raises(TransformError, match="'max' or 'zscore'"):
        e.normalize_responses("l2", force=True)
    with pytest.raises(TransformError, match="empty"):
        e.standardize_stims(stim_indices=[], force=True)


def test_transformed_dataset_not_saved(tmp_path):
    e, _, _ = _pair(tmp_path)
    e.smooth_responses()
    with pytest.raises(TransformError, match="raw data"):
        strfh5.save(e, tmp_path / "x.strf.h5")


def test_video_helpers(tmp_path):
    rng = np.random.default_rng(3)
    vids = [rng.random((3, 8, 6, T), dtype=np.float32) for T in (4, 6)]
    resp = [[rng.integers(0, 3, (2, 4))], [rng.integers(0, 3, (1, 6))]]
    v = strfh5.from_lists(vids, resp, dt_ms=10)
    path = strfh5.save(v, tmp_path / "v.strf.h5")
    lazy = strfh5.load(path, lazy=True)
    for d in (v, lazy):
        d.from_rgb_to_grayscale()
        d.change_spatial_resolution((4, 3))
        assert d.C == 1 and (d.H, d.W) == (4, 3)
    want = (vids[1] * np.array([0.299, 0.587, 0.114], np.float32)[:, None, None, None]).sum(0, keepdims=True)
    want = want.reshape(1, 4, 2, 3, 2, 6).mean(axis=(2, 4))
    np.testing.assert_allclose(v.stims[1].numpy(), want, rtol=1e-5)
    assert torch.equal(v.stims[1], lazy.stims[1])
    with pytest.raises(TransformError):
        v.from_rgb_to_grayscale(force=True)
    src = strfh5.load(path)
    clips = src.split_into_clips(3)
    ids = src.stim_ids
    assert clips.get_S() == 3 and clips.stim_ids == [f"{ids[0]}#clip0", f"{ids[1]}#clip0", f"{ids[1]}#clip1"]
    assert clips.stims[2].shape == (3, 8, 6, 3)
    np.testing.assert_array_equal(clips.responses[2][0].numpy(), resp[1][0][:, 3:6])
    assert clips.stim_meta[2]["clip_start_bin"] == 3
    r2 = strfh5.load(path).change_temporal_resolution(20)
    assert r2.stims[1].shape == (3, 8, 6, 3) and r2.responses[1][0].shape == (1, 3)
    with pytest.raises(TransformError):
        v.change_temporal_resolution(20)


def test_transform_of_a_concatenation_leaves_inputs_untouched(tmp_path):
    e, _, resp = _pair(tmp_path)
    other = strfh5.from_lists([np.ones((1, 4, 5), np.float32)], [[np.full((1, 5), 3)]], dt_ms=5,
                              neuron_ids=["other"])
    before = e.responses[0][0].clone()
    combined = e + other
    combined.normalize_responses("max")
    assert torch.equal(e.responses[0][0], before)
    assert combined.responses[0][0].max().item() <= 1.0
    assert combined.responses[3][3].max().item() == 1.0
