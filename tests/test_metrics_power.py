"""strfh5.metrics.power: Sahani-Linden signal/noise power and SNR against a known signal plus noise."""

from __future__ import annotations

import math

import numpy as np
import torch

from strfh5 import metrics as M


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
