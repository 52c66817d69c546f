"""The linear-nonlinear model: the neurons' input, the linear stage (STRF drive) and the sigmoid rates.

.. math::

    z_n(t) = \\sum_{f, l} h_n[f, l] \\, x[f, t - l], \\qquad
    \\lambda_n(t) = r_0 + (r_{max} - r_0) \\, \\sigma(k (z_n(t) - \\theta)),

with ``x = (spectrogram - INPUT_OFFSET) / INPUT_SCALE`` and frames before
onset taken as silence (the spectrogram's floor ``SILENCE_DB``).
"""

from __future__ import annotations

import math
from typing import Mapping, Sequence

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ..errors import InvalidDataError

#: floor of the dB spectrogram (eps of the transform): 1e-8 -> -80 dB
EPS = 1e-8
#: the spectrogram value of silence (dB)
SILENCE_DB = 10.0 * math.log10(EPS)
#: affine map from the dB spectrogram to the neurons' input
INPUT_OFFSET = -20.0
INPUT_SCALE = 20.0


def drive(spec: np.ndarray, strfs: np.ndarray) -> np.ndarray:
    """Linear stage ``z[n, t] = sum_{f,l} strfs[n, f, l] x[f, t - l]`` (silence before onset).

    Parameters
    ----------
    spec : array, shape (1, F, T) or (F, T)
        A stored spectrogram (dB).
    strfs : array, shape (N, F, L)

    Returns
    -------
    numpy.ndarray, shape (N, T)
    """
    x = np.asarray(spec, dtype=np.float64)
    if x.ndim == 3:
        x = x[0]
    strfs = np.asarray(strfs, dtype=np.float64)
    N, F, Lg = strfs.shape
    if x.shape[0] != F:
        raise InvalidDataError(f"spectrogram has {x.shape[0]} bands, the STRFs {F}")
    T = x.shape[1]
    xin = (x - INPUT_OFFSET) / INPUT_SCALE
    pad = np.full((F, Lg - 1), (SILENCE_DB - INPUT_OFFSET) / INPUT_SCALE)
    xp = np.concatenate([pad, xin], axis=1)  # (F, T + L - 1)
    # lagged design: X[f, l, t] = x[f, t - l]
    win = sliding_window_view(xp, Lg, axis=1)[:, :T, ::-1]  # (F, T, L), lag l at index l
    z = np.einsum("nfl,ftl->nt", strfs, win, optimize=True)
    return z


def simulated_rates(spec: np.ndarray, strfs: np.ndarray, nonlinearity: Sequence[Mapping]) -> np.ndarray:
    """Firing rates (spikes/s) of LN neurons for one stored spectrogram.

    Parameters
    ----------
    spec : array, shape (1, F, T) or (F, T)
        A spectrogram as stored by the simulator (dB).
    strfs : array, shape (N, F, L)
        Ground-truth STRFs (``nrn_meta[n]['strf']``).
    nonlinearity : sequence of N dicts
        ``nrn_meta[n]['nonlinearity']``.

    Returns
    -------
    numpy.ndarray, shape (N, T)
        The noise-free rate of each neuron (before trial gains), which a fitted
        model of the file's data should approach.
    """
    z = drive(spec, strfs)
    sp = np.array([float(m["spont_hz"]) for m in nonlinearity])[:, None]
    pk = np.array([float(m["peak_hz"]) for m in nonlinearity])[:, None]
    k = np.array([float(m["slope"]) for m in nonlinearity])[:, None]
    th = np.array([float(m["threshold"]) for m in nonlinearity])[:, None]
    return sp + (pk - sp) / (1.0 + np.exp(-k * (z - th)))
