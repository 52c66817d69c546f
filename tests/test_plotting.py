"""Figures: every stimulus kind and response form draws what it is given (Agg backend)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

import strfh5  # noqa: E402
from strfh5.plotting import plot_coverage, plot_stim_with_response  # noqa: E402


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def test_spectrogram_with_counts_draws_stim_raster_and_psth():
    stim = torch.arange(4 * 10, dtype=torch.float32).reshape(1, 4, 10)
    resp = torch.tensor([[0, 1, 2, 0, 0, 3, 0, 0, 1, 0], [1, 1, 0, 0, 0, 1, 0, 0, 0, 2]], dtype=torch.float32)
    fig = plot_stim_with_response(stim, resp, dt_ms=5, title="t")
    ax_stim, ax_raster, ax_psth = fig.axes[:3]
    assert np.array_equal(ax_stim.images[0].get_array(), stim[0].numpy())
    assert np.array_equal(ax_raster.images[0].get_array(), resp.numpy())
    x, y = ax_psth.lines[0].get_data()
    assert np.allclose(y, resp.mean(0).numpy()) and np.allclose(x, (np.arange(10) + 0.5) * 5)
    assert ax_stim.get_xlim() == (0.0, 50.0)
    assert fig._suptitle.get_text() == "t"


def test_nan_padded_repeats_ignored_and_sentinel_means_not_recorded():
    resp = np.array([[1.0, 2.0, 3.0], [np.nan, np.nan, np.nan]])
    fig = plot_stim_with_response(np.ones((1, 2, 3)), resp, dt_ms=1)
    assert fig.axes[1].images[0].get_array().shape == (1, 3)
    assert np.allclose(fig.axes[2].lines[0].get_data()[1], [1, 2, 3])
    fig = plot_stim_with_response(np.ones((1, 2, 3)), torch.full((1, 1), float("nan")), dt_ms=1)
    assert any(t.get_text() == "not recorded" for t in fig.axes[1].texts)
    assert not fig.axes[2].lines


def test_spike_times_raster_and_rate():
    ev = strfh5.Events(np.array([1.0, 6.0, 7.0, -3.0, 12.0]), np.array([3, 2]))
    fig = plot_stim_with_response(np.zeros((1, 2, 3)), ev, dt_ms=5)
    assert len(fig.axes[1].collections) == 2  # one event line per repeat
    rate = fig.axes[2].lines[0].get_data()[1]
    # bins [0,5) [5,10) [10,15): counts (1,2,0) and (0,0,1) -> mean * 1000 / 5
    assert np.allclose(rate, [100.0, 200.0, 100.0])
    fig = plot_stim_with_response(np.zeros((1, 2, 3)), [np.array([1.0]), np.array([11.0])], dt_ms=5)
    assert len(fig.axes[1].collections) == 2


def test_waveform_and_video_stimuli_and_axes_argument():
    fig = plot_stim_with_response(np.sin(np.arange(1000))[None], np.ones((2, 20)), dt_ms=10)
    x, _ = fig.axes[0].lines[0].get_data()
    assert x[0] == 0 and x[-1] < 200.0 and len(x) == 1000
    video = np.random.default_rng(0).random((1, 3, 4, 6)).astype(np.float32)
    fig = plot_stim_with_response(video, np.ones((1, 6)), dt_ms=10)
    strip = fig.axes[0].images[0].get_array()
    assert strip.shape == (3, 4 * 6) and np.allclose(strip[:, :4], video[0, :, :, 0])
    f2, axes = plt.subplots(2, 1)
    assert plot_stim_with_response(np.ones((1, 2, 3)), np.ones((1, 3)), 5, ax=axes) is f2
    f3, ax = plt.subplots()
    assert plot_stim_with_response(np.ones((1, 2, 3)), np.ones((1, 3)), 5, ax=ax) is f3


def test_bad_inputs_raise_invalid_data():
    with pytest.raises(strfh5.InvalidDataError, match="stimulus of shape"):
        plot_stim_with_response(np.ones((1, 1, 2, 3, 4)), np.ones((1, 4)), 5)
    with pytest.raises(strfh5.InvalidDataError, match="dt_ms"):
        plot_stim_with_response(np.ones((1, 2, 3)), np.ones((1, 3)), 0)
    with pytest.raises(strfh5.InvalidDataError, match="response"):
        plot_stim_with_response(np.ones((1, 2, 3)), np.ones((1, 1, 3)), 5)
    with pytest.raises(strfh5.InvalidDataError, match="coverage"):
        plot_coverage(np.ones(3, bool))


def test_coverage_from_masks_dataset_and_path(tmp_path):
    masks = np.random.default_rng(1).random((7, 5)) < 0.6
    fig = plot_coverage(masks)
    assert np.array_equal(fig.axes[0].images[0].get_array(), masks.T)
    assert f"{int(masks.sum())} / 35" in fig.axes[0].get_title()
    rows = [[np.ones((1, 2)) if masks[s, n] else None for n in range(5)] for s in range(7)]
    c = strfh5.contents_from_lists(stims=[np.ones((1, 1, 2), np.float32)] * 7, responses=rows, dt_ms=5)
    strfh5.save(c, tmp_path / "m.strf.h5")
    for obj in (c, str(tmp_path / "m.strf.h5"), strfh5.load(tmp_path / "m.strf.h5"), torch.from_numpy(masks)):
        assert np.array_equal(plot_coverage(obj).axes[0].images[0].get_array(), masks.T)
    fig = plot_coverage(masks, stim_order=[6, 5, 4, 3, 2, 1, 0], neuron_order=[4, 3, 2, 1, 0],
                        stim_boundaries=[3], neuron_boundaries=[2], title="x")
    assert np.array_equal(fig.axes[0].images[0].get_array(), masks[::-1, ::-1].T)
    assert fig.axes[0].get_title() == "x" and len(fig.axes[0].lines) == 2
