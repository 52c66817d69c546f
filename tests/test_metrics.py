"""strfh5.metrics against the loop oracles of tests/reference_metrics.py and closed forms."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

import reference_metrics as ref
from strfh5 import metrics as M
from strfh5.errors import MetricError, StrfH5Error

TOL = 1e-6


def _signal_noise(rng, R, T, noise=1.0):
    sig = rng.gamma(2.0, 1.0, size=T)
    return sig + noise * rng.normal(size=(R, T)), sig


def _f(x):
    return float(x)


def _close(a, b, tol=TOL):
    if math.isnan(b):
        return math.isnan(a)
    if math.isinf(b):
        return a == b
    return abs(a - b) <= tol * max(1.0, abs(b))


# ------------------------------------------------------------------ splits
@pytest.mark.parametrize("R", [2, 3, 4, 5, 6, 7, 8, 9, 10])
def test_half_splits_enumerate_each_unordered_split_once(R):
    h = M.half_splits(R, 126).numpy()
    assert h.shape == (M.n_half_splits(R), R) == (len(ref.ref_all_splits(R)), R)
    got = {frozenset([tuple(np.flatnonzero(r)), tuple(np.flatnonzero(~r))]) for r in h}
    want = {frozenset([a, b]) for a, b in ref.ref_all_splits(R)}
    assert got == want and len(got) == h.shape[0]
    assert np.all(h.sum(1) == R // 2)


def test_half_splits_random_sample_is_distinct_seeded_and_capped():
    assert M.n_half_splits(10) == 126 and M.n_half_splits(11) == 462 and M.n_half_splits(1) == 0
    a = M.half_splits(12, 50, seed=3).numpy()
    assert a.shape == (50, 12)
    assert len({r.tobytes() for r in a}) == 50  # distinct
    assert np.all(a[:, 0]) and np.all(a.sum(1) == 6)  # canonical: half A holds repeat 0
    assert np.array_equal(a, M.half_splits(12, 50, seed=3).numpy())
    assert not np.array_equal(a, M.half_splits(12, 50, seed=4).numpy())
    b = M.half_splits(11, 20, seed=0).numpy()
    assert np.all(b.sum(1) == 5)
    with pytest.raises(MetricError):
        M.half_splits(4, 0)


# ------------------------------------------------- agreement with oracles
@pytest.mark.parametrize("R", [2, 3, 4, 5, 8, 10, 11, 13])
def test_single_stimulus_metrics_match_reference(R):
    rng = np.random.default_rng(R)
    y, sig = _signal_noise(rng, R, 47)
    p = sig + 0.5 * rng.normal(size=47)
    yt, pt = torch.tensor(y), torch.tensor(p)
    assert _close(_f(M.ccmax(yt)), ref.ref_ccmax([y], use_library_order=R > 10))
    assert _close(_f(M.half_split_correlation(yt)), ref.ref_rho_half([y], use_library_order=R > 10))
    assert _close(_f(M.snr(yt)), ref.ref_snr([y]))
    assert _close(_f(M.signal_power(yt)), ref.ref_signal_power([y]))
    assert _close(_f(M.noise_power(yt)), ref.ref_noise_power([y]))
    assert _close(_f(M.ttrc(yt)), ref.ref_ttrc([y]))
    assert _close(_f(M.sahani_performance(pt, yt)), ref.ref_sahani([p], [y]))
    cc = ref.ref_corrcoef([p], [y.mean(0)])
    assert _close(_f(M.corrcoef(pt, yt.mean(0))), cc)
    assert _close(_f(M.normalized_corrcoef(pt, yt)), cc / ref.ref_ccmax([y], use_library_order=R > 10))


def test_small_max_iters_uses_the_seeded_sample():
    rng = np.random.default_rng(1)
    y, _ = _signal_noise(rng, 8, 30)  # 35 splits > 10
    for seed in (0, 1):
        want = ref.ref_ccmax([y], max_iters=10, seed=seed, use_library_order=True)
        assert _close(_f(M.ccmax(torch.tensor(y), max_iters=10, seed=seed)), want)


def test_batched_nan_padded_elements_match_reference_per_element():
    rng = np.random.default_rng(7)
    Rmax, Tmax = 9, 40
    Y = np.full((3, 4, Rmax, Tmax), np.nan)
    P = rng.normal(size=(3, 4, Tmax))
    for i, j in itertools.product(range(3), range(4)):
        R, T = int(rng.integers(1, Rmax + 1)), int(rng.integers(2, Tmax + 1))
        if (i, j) == (2, 3):
            continue  # a pair without data
        Y[i, j, :R, :T] = _signal_noise(rng, R, T)[0]
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
            assert _close(_f(out[k][i, j]), want[k]), (k, i, j, _f(out[k][i, j]), want[k])


def test_lists_of_stimuli_with_different_repeats_match_reference():
    rng = np.random.default_rng(11)
    shapes = [(4, 30), (6, 20), (3, 25), (12, 15), (1, 40)]
    ys = [_signal_noise(rng, R, T)[0] for R, T in shapes]
    ps = [rng.normal(size=T) for _, T in shapes]
    yt, pt = [torch.tensor(y) for y in ys], [torch.tensor(p) for p in ps]
    assert _close(_f(M.ccmax(yt)), ref.ref_ccmax(ys, use_library_order=True))
    assert _close(_f(M.snr(yt)), ref.ref_snr(ys))
    assert _close(_f(M.ttrc(yt)), ref.ref_ttrc(ys))
    assert _close(_f(M.sahani_performance(pt, yt)), ref.ref_sahani(ps, ys))
    assert _close(_f(M.corrcoef(pt, [y.mean(0) for y in yt])), ref.ref_corrcoef(ps, [y.mean(0) for y in ys]))


# ----------------------------------------------------- length weighting
def _centred_cat(ys):
    return torch.cat([y - y.mean(-1, keepdim=True) for y in ys], -1)


def test_pooling_over_stimuli_equals_concatenating_centred_time_axes():
    rng = np.random.default_rng(5)
    R = 6
    ys = [torch.tensor(_signal_noise(rng, R, T)[0] + 3.0 * s) for s, T in enumerate((13, 40, 27))]
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
    assert _close(_f(out[1, 2]), _f(M.ccmax([y[1, 2] for y in ys])))
    with pytest.raises(MetricError, match="leading"):
        M.snr([torch.zeros(2, 3, 4), torch.zeros(3, 3, 4)])


# ----------------------------------------------------------- closed forms
def test_identical_repeats_ceiling_one_and_snr_infinite():
    sig = torch.tensor(np.random.default_rng(0).normal(size=50))
    y = sig.repeat(6, 1)
    assert _close(_f(M.ccmax(y)), 1.0, 1e-12)
    assert _f(M.snr(y)) == math.inf
    assert _close(_f(M.ttrc(y)), 1.0, 1e-12)
    assert _f(M.noise_power(y)) == 0.0
    assert _close(_f(M.sahani_performance(sig * 2 + 1, y)), 1.0 - 1.0, 1e-12)  # P(ybar) - P(-ybar) = 0
    assert _close(_f(M.sahani_performance(sig, y)), 1.0, 1e-12)


def test_edge_cases_r1_constant_and_missing():
    one = torch.tensor(np.random.default_rng(0).normal(size=(1, 30)))
    assert _f(M.ccmax(one)) == 1.0  # no ceiling: documented fallback
    assert math.isnan(_f(M.snr(one))) and math.isnan(_f(M.ttrc(one)))
    assert math.isnan(_f(M.sahani_performance(one[0], one)))
    const = torch.full((5, 30), 3.0)
    for fn in (M.ccmax, M.snr, M.ttrc):
        assert math.isnan(_f(fn(const))), fn.__name__
    assert math.isnan(_f(M.corrcoef(torch.arange(30.0), torch.full((30,), 2.0))))
    missing = torch.full((4, 30), float("nan"))
    for fn in (M.ccmax, M.snr, M.ttrc, M.signal_power):
        assert math.isnan(_f(fn(missing))), fn.__name__
    assert torch.isnan(M.trial_mean(missing)).all()
    short = torch.ones(4, 1)
    assert _f(M.ccmax(short)) == 1.0 and math.isnan(_f(M.snr(short)))


def test_spearman_brown_formula():
    rho = torch.tensor([0.0, 0.25, 0.5, 1.0, -0.1])
    out = M.spearman_brown(rho)
    assert out[0] == 0 and math.isnan(out[4])
    for r, o in zip(rho[1:4].tolist(), out[1:4].tolist()):
        assert _close(o, math.sqrt(2 / (1 + 1 / r)), 1e-12)


def test_independent_noise_ceiling_near_zero():
    rng = np.random.default_rng(3)
    T = 4000
    rhos, ccs = [], []
    for _ in range(20):
        y = torch.tensor(rng.normal(size=(8, T)))
        rho = _f(M.half_split_correlation(y))
        assert abs(rho) < 5 / math.sqrt(T)
        cc = _f(M.ccmax(y))
        assert math.isnan(cc) == (rho < 0)
        if not math.isnan(cc):
            ccs.append(cc)
        rhos.append(rho)
    assert abs(np.mean(rhos)) < 4 / math.sqrt(T * 20)
    assert max(ccs) < math.sqrt(2 * 5 / math.sqrt(T))  # sqrt(2 rho / (1 + rho)) with rho < 5/sqrt(T)


def test_snr_of_known_signal_plus_gaussian_noise_within_sampling_error():
    rng = np.random.default_rng(4)
    R, T, sigma = 10, 200, 2.0
    sig = np.sin(np.linspace(0, 12, T)) * 1.5
    p_sig = np.var(sig)
    y = torch.tensor(sig + sigma * rng.normal(size=(300, R, T)))  # 300 seeds, batched
    sps, nps, snrs = M.signal_power(y).numpy(), M.noise_power(y).numpy(), M.snr(y).numpy()
    n = len(sps)
    # SP is unbiased for the signal's power, NP for sigma^2 (T-1)/T (powers use 1/T)
    assert abs(np.mean(sps) - p_sig) < 4 * np.std(sps) / math.sqrt(n)
    assert abs(np.mean(nps) - sigma**2 * (T - 1) / T) < 4 * np.std(nps) / math.sqrt(n)
    true_snr = p_sig / sigma**2
    assert abs(np.mean(snrs) - true_snr) < 4 * np.std(snrs) / math.sqrt(n) + 0.02 * true_snr
    # and the per-seed spread matches the sampling error of SP (std of one estimate)
    assert np.std(snrs) < 0.5 * true_snr


def test_ccmax_of_known_signal_matches_theory():
    # reliability of the R-trial mean: P(s) / (P(s) + sigma^2 / R); CCmax is its square root
    rng = np.random.default_rng(8)
    R, T, sigma = 10, 3000, 3.0
    sig = rng.normal(size=T)
    y = torch.tensor(sig + sigma * rng.normal(size=(R, T)))
    p = np.var(sig)
    want = math.sqrt(p / (p + sigma**2 / R))
    assert abs(_f(M.ccmax(y)) - want) < 0.03


# ------------------------------------------------------- padding and masks
def test_nan_padding_and_masks_do_not_change_results():
    rng = np.random.default_rng(9)
    y = torch.tensor(_signal_noise(rng, 5, 33)[0])
    padded = torch.full((8, 50), float("nan"), dtype=torch.float64)
    padded[:5, :33] = y
    shuffled = padded[[6, 0, 1, 7, 2, 3, 5, 4]]  # padded rows need not be last
    mask = torch.zeros(8, 50, dtype=torch.bool)
    mask[:5, :33] = True
    filled = torch.where(mask, padded, torch.tensor(123.0, dtype=torch.float64))
    for fn in (M.ccmax, M.snr, M.ttrc, M.signal_power):
        want = _f(fn(y))
        assert _close(_f(fn(padded)), want, 1e-10), fn.__name__
        assert _close(_f(fn(filled, mask=mask)), want, 1e-10), fn.__name__
        if fn is not M.ttrc:  # ttrc pairs repeats by position
            assert _close(_f(fn(shuffled)), want, 1e-10), fn.__name__
    p = torch.tensor(rng.normal(size=50))
    assert _close(_f(M.normalized_corrcoef(p, padded)), _f(M.normalized_corrcoef(p[:33], y)), 1e-10)
    assert _close(_f(M.sahani_performance(p, padded)), _f(M.sahani_performance(p[:33], y)), 1e-10)
    with pytest.raises(MetricError, match="broadcast"):
        M.snr(y, mask=torch.ones(3, 3, dtype=torch.bool))


def test_float32_and_numpy_inputs():
    rng = np.random.default_rng(10)
    y = _signal_noise(rng, 4, 25)[0]
    a = M.ccmax(torch.tensor(y, dtype=torch.float32))
    assert a.dtype == torch.float64
    assert _close(_f(M.ccmax(y)), ref.ref_ccmax([y]))  # numpy array accepted
    assert abs(_f(a) - ref.ref_ccmax([y])) < 1e-5


# --------------------------------------------------------- batch helpers
def _batch(rng, B=3, N=4, Rmax=5, Tmax=20):
    resp = torch.full((B, N, Rmax, Tmax), float("nan"))
    for b, n in itertools.product(range(B), range(N)):
        if (b + n) % 5 == 4:
            continue
        R, T = int(rng.integers(1, Rmax + 1)), int(rng.integers(5, Tmax + 1))
        resp[b, n, :R, :T] = torch.tensor(rng.poisson(2.0, size=(R, T)), dtype=torch.float32)
    return resp, ~torch.isnan(resp)


def test_batch_corrcoef_and_cc_norm_per_pair():
    rng = np.random.default_rng(12)
    resp, vm = _batch(rng)
    pred = torch.rand(3, 4, 20)
    cc = M.batch_corrcoef(pred, resp, vm)
    ccn = M.batch_normalized_corrcoef(pred, resp, vm)
    assert cc.shape == ccn.shape == (3, 4)
    for b, n in itertools.product(range(3), range(4)):
        y = resp[b, n].double().numpy()
        blk = ref.valid_block(y)
        if not blk.size:
            assert math.isnan(_f(cc[b, n]))
            continue
        T = blk.shape[1]
        want = ref.ref_corrcoef([pred[b, n, :T].double().numpy()], [blk.mean(0)])
        assert _close(_f(cc[b, n]), want)
        assert _close(_f(ccn[b, n]), want / ref.ref_ccmax([y]))
    assert torch.allclose(M.batch_corrcoef(pred[:, :, None], resp, vm), cc, equal_nan=True)  # (B, N, 1, T) model output
    ceil = torch.full((4,), 0.5)
    assert torch.allclose(M.batch_normalized_corrcoef(pred, resp, vm, ccmax_value=ceil), cc / 0.5, equal_nan=True)
    with pytest.raises(MetricError):
        M.batch_corrcoef(torch.rand(3, 4, 19), resp, vm)
    with pytest.raises(MetricError):
        M.batch_corrcoef(torch.rand(3, 4, 2, 20), resp, vm)


def test_masked_losses_value_and_nan_free_gradients():
    rng = np.random.default_rng(13)
    resp, vm = _batch(rng)
    pred = (torch.rand(3, 4, 20) + 0.1).requires_grad_(True)
    mse = M.masked_mse(pred, resp, vm)
    pois = M.masked_poisson_loss(pred, resp, vm)
    full = pred[:, :, None].expand_as(resp)
    want_mse = ((full - resp) ** 2)[vm].mean()
    want_pois = (full - resp * torch.log(full + 1e-8))[vm].mean()
    assert torch.allclose(mse, want_mse) and torch.allclose(pois, want_pois)
    (mse + pois).backward()
    assert torch.isfinite(pred.grad).all() and pred.grad.abs().sum() > 0
    # a pair without data gets no gradient; bins past every repeat's end neither
    empty_pairs = ~vm.any(-1).any(-1)
    assert empty_pairs.any() and torch.all(pred.grad[empty_pairs] == 0)
    assert torch.all(pred.grad[~vm.any(2)] == 0)
    assert torch.allclose(M.masked_mse(pred, resp, vm, reduction="sum"), ((full - resp) ** 2)[vm].sum())
    none = M.masked_mse(pred, resp, vm, reduction="none")
    assert none.shape == resp.shape and torch.all(none[~vm] == 0)
    logp = torch.log(pred.detach())
    assert torch.allclose(M.masked_poisson_loss(logp, resp, vm, log_input=True), pois.detach(), atol=1e-5)
    # an all-invalid batch: zero loss, still differentiable
    empty = M.masked_mse(pred, torch.full_like(resp, float("nan")))
    assert empty.item() == 0.0 and empty.requires_grad
    with pytest.raises(MetricError, match="reduction"):
        M.masked_mse(pred, resp, vm, reduction="max")
    with pytest.raises(MetricError):
        M.masked_mse(torch.rand(3, 4, 21), resp, vm)


def test_neural_collate_batch_end_to_end():
    import strfh5
    from strfh5.collate import neural_collate

    rng = np.random.default_rng(14)
    stims = [rng.random((1, 4, T)).astype(np.float32) for T in (12, 20)]
    resp = [[rng.poisson(1.0, size=(R, stims[s].shape[-1])) for R in (2, 5)] for s in range(2)]
    resp[1][0] = None
    ds = strfh5.from_lists(stims, resp, dt_ms=5)
    batch = neural_collate([ds[0], ds[1]])
    B, N, R, T = batch["responses"].shape if isinstance(batch, dict) else batch.responses.shape
    responses = batch["responses"]
    vm = batch["valid_mask"]
    pred = torch.rand(B, N, T)
    cc = M.batch_corrcoef(pred, responses, vm)
    assert cc.shape == (B, N)
    assert torch.isfinite(M.masked_poisson_loss(pred, responses, vm))


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
