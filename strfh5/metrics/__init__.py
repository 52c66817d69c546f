"""Response-quality and model-performance metrics (torch, NaN-aware, batched).

Every function works on tensors with any number of leading (batch) axes:
responses are ``(..., R, T)`` — repeats by time bins — and predictions or
single traces are ``(..., T)``.  Missing data are NaN, the deepSTRF convention:

* a **repeat** (row) is valid when it holds at least one non-NaN value, so
  ``R`` padded with NaN rows (``neural_collate`` pads ragged repeats that way)
  counts only the real repeats;
* a **time bin** is valid when it is non-NaN in *every* valid repeat, so ``T``
  padded with NaN columns counts only the real bins, and a NaN sample inside a
  continuous recording (a bad EEG sample) drops that bin for the whole element;
* ``mask`` arguments (bool, broadcastable to the data) mark entries to use;
  ``False`` is the same as NaN.

**Across stimuli.** Every function also accepts a *list* of per-stimulus
tensors (same leading axes, any ``R_s`` and ``T_s``) and then returns one value
per element, pooled over the stimuli.  Pooling sums each stimulus's second
moments — covariances and powers about that stimulus's own means — before the
final ratio.  Summing moments weights each stimulus by its number of valid bins
(length-weighting, as deepSTRF's ``compute_neuron_quality``), and is exactly the
metric computed on the concatenation of the stimuli's time axes after each
stimulus's responses are centred on their own (per-repeat) mean.  Centring per
stimulus keeps the result independent of how repeats of different stimuli are
paired and of between-stimulus offsets.  Example::

    snr([y_0, y_1])  ==  snr(torch.cat([y_0 - y_0.mean(-1, keepdim=True),
                                        y_1 - y_1.mean(-1, keepdim=True)], -1))

for ``y_s`` of shape ``(R, T_s)`` with the same ``R``.

All computations run in float64; results are float64 tensors of the leading
shape.  Undefined values are NaN, never an exception: a pair with no data, a
constant response (zero variance), fewer than two valid bins.

Modules
-------
``correlation``  :func:`corrcoef`, :func:`trial_mean`, :func:`normalized_corrcoef`
``reliability``  :func:`ccmax`, :func:`half_split_correlation`, :func:`spearman_brown`, :func:`ttrc`
``splits``       :func:`half_splits`, :func:`n_half_splits`
``power``        :func:`signal_power`, :func:`noise_power`, :func:`snr`, :func:`sahani_performance`
``batch``        :func:`batch_corrcoef`, :func:`batch_normalized_corrcoef` (``neural_collate`` batches)
``losses``       :func:`masked_mse`, :func:`masked_poisson_loss`
``validity``     input conversion, masks and the NaN rules above (package-internal)

References
----------
Sahani M, Linden JF (2003). How linear are auditory cortical responses?
    NIPS 15, 125-132.  (signal and noise power, SNR, predictive power)
Hsu A, Borst A, Theunissen FE (2004). Quantifying variability in neural
    responses and its application for the validation of model predictions.
    Network 15, 91-109.  (CCmax from split halves, Spearman-Brown)
Schoppe O, Harper NS, Willmore BDB, King AJ, Schnupp JWH (2016). Measuring the
    performance of neural models. Front Comput Neurosci 10:10.  (cc_norm)
"""

from __future__ import annotations

from ..errors import MetricError
from .batch import batch_corrcoef, batch_normalized_corrcoef
from .correlation import corrcoef, normalized_corrcoef, trial_mean
from .losses import masked_mse, masked_poisson_loss
from .power import ROUNDING, noise_power, sahani_performance, signal_power, snr
from .reliability import ccmax, half_split_correlation, spearman_brown, ttrc
from .splits import DEFAULT_MAX_ITERS, half_splits, n_half_splits

__all__ = [
    "corrcoef",
    "normalized_corrcoef",
    "ccmax",
    "half_split_correlation",
    "spearman_brown",
    "half_splits",
    "n_half_splits",
    "signal_power",
    "noise_power",
    "snr",
    "ttrc",
    "sahani_performance",
    "trial_mean",
    "batch_corrcoef",
    "batch_normalized_corrcoef",
    "masked_mse",
    "masked_poisson_loss",
    "MetricError",
    "DEFAULT_MAX_ITERS",
    "ROUNDING",
]
