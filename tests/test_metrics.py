"""strfh5.metrics (the package's contract) against the loop oracles of tests/reference_metrics.py and closed
forms: every metric on one stimulus, batched and NaN-padded elements, lists of stimuli, pooling, edge cases."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

import reference_metrics as ref
from metric_cases import as_float, close, signal_noise
from strfh5 import metrics as M
from strfh5.errors import MetricError, StrfH5Error


@pytest.mark.parametrize("R", [2, 3, 4, 5, 8, 10, 11, 13])
def test_single_stimulus_metrics_match_reference(R):
    rng = np.random.default_rng(R)
    y, sig = signal_noise(rng, R, 47)
    p = sig + 0.5 * rng.normal(size=47)
    yt, pt = torch.tensor(y), torch.tensor(p)
    assert close(as_float(M.ccmax(yt)), ref.ref_ccmax([y], use_library_order=R > 10))
    assert close(as_float(M.half_split_correlation(yt)), ref.ref_rho_half([y], use_library_order=R > 10))
    assert close(as_float(M.snr(yt)), ref.ref_snr([y]))
    assert close(as_float(M.signal_power(yt)), ref.ref_signal_power([y]))
    assert close(as_float(M.noise_power(yt)), ref.ref_noise_power([y]))
    assert close(as_float(M.ttrc(yt)), ref.ref_ttrc([y]))
    assert close(as_float(M.sahani_performance(pt, yt)), ref.ref_sahani([p], [y]))
    cc = ref.ref_corrcoef([p], [y.mean(0)])
    assert close(as_float(M.corrcoef(pt, yt.mean(0))), cc)
    assert close(as_float(M.normalized_corrcoef(pt, yt)), cc / ref.ref_ccmax([y], use_library_order=R > 10))


def test_batched_nan_padded_elements_match_reference_per_element():
    rng = np.random.default_rng(7)
    Rmax, Tmax = 9, 40
    Y = np.full((3, 4, Rmax, Tmax), np.nan)
    P = rng.normal(size=(3, 4, Tmax))
    for i, j in itertools.product(range(3), range(4)):
        R, T = int(rng.integers(1, Rmax + 1)), int(rng.integers(2, Tmax + 1))
        if (i, j) == (2, 3):
            continue  # a pair without data
        Y[i, j, :R, :T] = signal_noise(rng, R, T)[0]
    Y[0, 0, 1, 5] = np.nan  # a bad sample inside a continuous recording drops bin 5
    Yt, Pt = torch.tensor(Y), torch.tensor(P)
    out = {
        "ccmax": M.ccmax(Yt), "snr": M.snr(Yt), "ttrc": M.ttrc(Yt), "sp": M.signal_power(Yt),
        "np": M.noise_power(Yt), "sahani": M.sahani_performance(Pt, Yt),
        "cc": M.corrcoef(Pt, M.trial_mean(Yt)), "ccn": M.normalized_corrcoef(Pt, Yt),
    }
    assert all(v.shape == (3, 4) and v.dtype == torch.float64 for v in out.values())
    for i, j in itertools.product(range(3), range(4)):
        y, p = Y[i, j], P[i, j]
        blk = ref.valid_block(y)
        mean = np.full(Tmax, np.nan)
        if blk.size:
            cols = ~np.any(np.isnan(y[~np.all(np.isnan(y), axis=1)]), axis=0)
            mean[cols] = blk.mean(0)
        cm = ref.ref_ccmax([y])
        cc = ref.ref_corrcoef([p], [mean])
        want = {
            "ccmax": cm, "snr": ref.ref_snr([y]), "ttrc": ref.ref_ttrc([y]), "sp": ref.ref_signal_power([y]),
            "np": ref.ref_noise_power([y]), "sahani": ref.ref_sahani([p], [y]), "cc": cc, "ccn": cc / cm,
        }
        for k in out:
            assert close(as_float(out[k][i, j]), want[k]), (k, i, j, as_float(out[k][i, j]), want[k])


def test_lists_of_stimuli_with_different_repeats_match_reference():
    rng = np.random.default_rng(11)
    shapes = [(4, 30), (6, 20), (3, 25), (12, 15), (1, 40)]
    ys = [signal_noise(rng, R, T)[0] for R, T in shapes]
    ps = [rng.normal(size=T) for _, T in shapes]
    yt, pt = [torch.tensor(y) for y in ys], [torch.tensor(p) for p in ps]
    assert close(as_float(M.ccmax(yt)), ref.ref_ccmax(ys, use_library_order=True))
    assert close(as_float(M.snr(yt)), ref.ref_snr(ys))
    assert close(as_float(M.ttrc(yt)), ref.ref_ttrc(ys))
    assert close(as_float(M.sahani_performance(pt, yt)), ref.ref_sahani(ps, ys))
    assert close(as_float(M.corrcoef(pt, [y.mean(0) for y in yt])), ref.ref_corrcoef(ps, [y.mean(0) for y in ys]))


def _centred_cat(ys):
    return torch.cat([y - y.mean(-1, keepdim=True) for y in ys], -1)


def test_pooling_over_stimuli_equals_concatenating_centred_time_axes():
    rng = np.random.default_rng(5)
    R = 6
    ys = [torch.tensor(signal_noise(rng, R, T)[0] + 3.0 * s) for s, T in enumerate((13, 40, 27))]
    ps = [torch.tensor(rng.normal(size=y.shape[-1])) for y in ys]
    cat, pcat = _centred_cat(ys), torch.cat([p - p.mean() for p in ps])
    for fn in (M.snr, M.signal_power, M.noise_power, M.ttrc, M.ccmax, M.half_split_correlation):
        assert torch.allclose(fn(ys), fn(cat), rtol=1e-10, atol=1e-12), fn.__name__
    assert torch.allclose(M.sahani_performance(ps, ys), M.sahani_performance(pcat, cat), rtol=1e-10)
    assert torch.allclose(M.normalized_corrcoef(ps, ys), M.normalized_corrcoef(pcat, cat), rtol=1e-10)
    # and length weighting: SP and NP are the T-weighted means of the per-stimulus values
    T = torch.tensor([y.shape[-1] for y in ys], dtype=torch.float64)
    for fn in (M.signal_power, M.noise_power):
        per = torch.stack([fn(y) for y in ys])
        assert torch.allclose(fn(ys), (per * T).sum() / T.sum(), rtol=1e-10)
    sp = torch.stack([M.signal_power(y) for y in ys])
    npw = torch.stack([M.noise_power(y) for y in ys])
    assert torch.allclose(M.snr(ys), (sp * T).sum() / (npw * T).sum(), rtol=1e-10)
    # a between-stimulus offset does not change anything (per-stimulus centring)
    assert torch.allclose(M.snr([ys[0] + 100.0, ys[1], ys[2]]), M.snr(ys), rtol=1e-10)


def test_lists_batch_over_leading_axes():
    rng = np.random.default_rng(2)
    ys = [torch.tensor(rng.normal(size=(2, 3, 5, T)) + rng.normal(size=(2, 3, 1, T))) for T in (10, 20)]
    out = M.ccmax(ys)
    assert out.shape == (2, 3)
    assert close(as_float(out[1, 2]), as_float(M.ccmax([y[1, 2] for y in ys])))
    with pytest.raises(MetricError, match="leading"):
        M.snr([torch.zeros(2, 3, 4), torch.zeros(3, 3, 4)])


def test_identical_repeats_ceiling_one_and_snr_infinite():
    sig = torch.tensor(np.random.default_rng(0).normal(size=50))
    y = sig.repeat(6, 1)
    assert close(as_float(M.ccmax(y)), 1.0, 1e-12)
    assert as_float(M.snr(y)) == math.inf
    assert close(as_float(M.ttrc(y)), 1.0, 1e-12)
    assert as_float(M.noise_power(y)) == 0.0
    assert close(as_float(M.sahani_performance(sig * 2 + 1, y)), 1.0 - 1.0, 1e-12)  # P(ybar) - P(-ybar) = 0
    assert close(as_float(M.sahani_performance(sig, y)), 1.0, 1e-12)


def test_edge_cases_r1_constant_and_missing():
    one = torch.tensor(np.random.default_rng(0).normal(size=(1, 30)))
    assert as_float(M.ccmax(one)) == 1.0  # no ceiling: documented fallback
    assert math.isnan(as_float(M.snr(one))) and math.isnan(as_float(M.ttrc(one)))
    assert math.isnan(as_float(M.sahani_performance(one[0], one)))
    const = torch.full((5, 30), 3.0)
    for fn in (M.ccmax, M.snr, M.ttrc):
        assert math.isnan(as_float(fn(const))), fn.__name__
    assert math.isnan(as_float(M.corrcoef(torch.arange(30.0), torch.full((30,), 2.0))))
    missing = torch.full((4, 30), float("nan"))
    for fn in (M.ccmax, M.snr, M.ttrc, M.signal_power):
        assert math.isnan(as_float(fn(missing))), fn.__name__
    assert torch.isnan(M.trial_mean(missing)).all()
    short = torch.ones(4, 1)
    assert as_float(M.ccmax(short)) == 1.0 and math.isnan(as_float(M.snr(short)))


def test_nan_padding_and_masks_do_not_change_results():
    rng = np.random.default_rng(9)
    y = torch.tensor(signal_noise(rng, 5, 33)[0])
    padded = torch.full((8, 50), float("nan"), dtype=torch.float64)
    padded[:5, :33] = y
    shuffled = padded[[6, 0, 1, 7, 2, 3, 5, 4]]  # padded rows need not be last
    mask = torch.zeros(8, 50, dtype=torch.bool)
    mask[:5, :33] = True
    filled = torch.where(mask, padded, torch.tensor(123.0, dtype=torch.float64))
    for fn in (M.ccmax, M.snr, M.ttrc, M.signal_power):
        want = as_float(fn(y))
        assert close(as_float(fn(padded)), want, 1e-10), fn.__name__
        assert close(as_float(fn(filled, mask=mask)), want, 1e-10), fn.__name__
        if fn is not M.ttrc:  # ttrc pairs repeats by position
            assert close(as_float(fn(shuffled)), want, 1e-10), fn.__name__
    p = torch.tensor(rng.normal(size=50))
    assert close(as_float(M.normalized_corrcoef(p, padded)), as_float(M.normalized_corrcoef(p[:33], y)), 1e-10)
    assert close(as_float(M.sahani_performance(p, padded)), as_float(M.sahani_performance(p[:33], y)), 1e-10)
    with pytest.raises(MetricError, match="broadcast"):
        M.snr(y, mask=torch.ones(3, 3, dtype=torch.bool))


def test_float32_and_numpy_inputs():
    rng = np.random.default_rng(10)
    y = signal_noise(rng, 4, 25)[0]
    a = M.ccmax(torch.tensor(y, dtype=torch.float32))
    assert a.dtype == torch.float64
    assert close(as_float(M.ccmax(y)), ref.ref_ccmax([y]))  # numpy array accepted
    assert abs(as_float(a) - ref.ref_ccmax([y])) < 1e-5


def test_errors_are_strfh5_errors():
    with pytest.raises(MetricError):
        M.snr(torch.zeros(5))
    with pytest.raises(MetricError):
        M.ccmax([])
    with pytest.raises(MetricError):
        M.corrcoef([torch.zeros(3)], torch.zeros(3))
    with pytest.raises(StrfH5Error):
        M.ccmax(torch.zeros(3, 4), max_iters=0)
    with pytest.raises(MetricError):
        M.normalized_corrcoef(torch.zeros(4), torch.zeros(3, 5))
