"""The valid files of the suite: every object and option of SPEC §3–§9 (descriptions + reads)."""

from __future__ import annotations

import os

import numpy as np

import _concat
import _writer as W
from _recipe import recompute

U = "00000000-0000-4000-8000-{:012d}"


def _transform(kind: str, sr: float, dt: float, F: int) -> dict:
    f_min, f_max = 300.0, 3000.0
    win = max(1, round(5.0 * sr / 1000.0))
    return {"kind": kind, "n_bands": F, "f_min": f_min, "f_max": f_max, "window_ms": 5.0, "hop_ms": dt,
            "n_fft": 1 << (win - 1).bit_length(), "win_length": win, "window": "hann", "sample_rate": sr,
            "compression": "cuberoot", "power": 2.0, "library": "strfh5.spectrogram/1",
            "params": {"eps": 1e-10}}


def events_spectrogram() -> dict:
    """Events, float64 times on and next to bin edges, kept waveforms, transform (recompute)."""
    rng = np.random.default_rng(1)
    sr, dt = 8000.0, 5.0
    t = _transform("log", sr, dt, 4)
    waves = [rng.standard_normal((1, n)).astype(np.float32) for n in (250, 170)]
    stims = [recompute(w.astype(np.float64), sr, t, dt) for w in waves]  # (1, 4, 6) and (1, 4, 4)
    edge = [0.0, 5.0, 10.0, 14.999999999999998, 15.0, 29.999999999999996, 30.0]
    return W.defaults(
        stims=stims, waveforms=[(w, sr) for w in waves], transform=t, dt_ms=dt, uuid=U.format(1),
        stim_ids=["chant-α", "ripple 2"], neuron_ids=["u1", "u2", "ü3"],
        stim_meta=[{"name": "chant d'oiseau 🐦"}, {"name": "ripple", "subset": "val"}],
        nrn_meta=[{"cell_id": "u1", "area": "A1"}, {"cell_id": "u2"}, {"cell_id": "ü3", "snr": None}],
        file_meta={"source": "user", "title": "conformance: events"},
        responses=[[[np.array([-2.5] + edge + [31.0]), np.array([])], None, [np.array([-0.0, 7.5, 7.5])]],
                   [[np.array([19.999999999999996, 20.0])], [np.array([]), np.array([0.0]), np.array([12.5])],
                    None]])


def mel_recompute() -> dict:
    """A mel spectrogram file (SPEC §11.6, Slaney mel) read at bin widths that need recomputation."""
    rng = np.random.default_rng(6)
    sr, dt = 16000.0, 4.0
    t = _transform("mel", sr, dt, 3)
    w = rng.standard_normal((2, 300)).astype(np.float32)  # two channels, averaged to mono
    return W.defaults(stims=[recompute(w.astype(np.float64), sr, t, dt)], waveforms=[(w, sr)], transform=t,
                      dt_ms=dt, uuid=U.format(13), neuron_ids=["m"], responses=[[[np.array([1.0, 17.0])]]],
                      file_meta={"source": "user", "title": "conformance: mel recipe"})


MEL_READS = [(None, None), (3.0, None), (2.5, (-5.0, 15.0))]


EVENTS_READS = [(None, None), (10.0, None), (15.0, None), (2.5, None), (3.0, None), (5.0, (-10.0, 20.0)),
                (5.0, (10.0, None)), (5.0, (2.5, 20.0)), (1.0, (-3.0, 4.0)), (10.0, (0.0, 60.0))]


def bin_edges() -> dict:
    """Waveform stimuli (returned as stored at any dt) and spike times made by float arithmetic at 0.1 ms."""
    ks = np.arange(0, 40)
    times = np.concatenate([ks * 0.1, ks / 10.0, np.cumsum(np.full(40, 0.1)) - 0.1, [3.9999999999999996]])
    return W.defaults(
        stims=[np.linspace(-1, 1, 64, dtype=np.float32).reshape(1, 64)], stim_kind="waveform",
        sample_rates=[16000.0], n_bins=[40], dt_ms=0.1, stim_dims=[1], uuid=U.format(2),
        neuron_ids=["edges"], responses=[[[times, times[::3]]]],
        file_meta={"source": "user", "title": "conformance: spike times on bin edges"})


EDGE_READS = [(None, None), (0.2, None), (0.3, None), (0.7, None), (1 / 3, None), (0.5, (0.1, 2.0)), (0.05, None)]


def binned_counts() -> dict:
    """Binned uint16 counts, stimuli of two float widths (float32 and float64), R varying per pair."""
    return W.defaults(
        stims=[np.arange(10, dtype=np.float32).reshape(1, 2, 5), np.array([[[0.5, 1e300, -1e-300]] * 2])],
        encoding="binned", response_kind="counts", count_dtype="u2", dt_ms=10.0, uuid=U.format(3),
        neuron_ids=["c0", "c1"], file_meta={"source": "user", "title": "conformance: binned counts"},
        responses=[[np.array([[0, 1, 2, 0, 300], [1, 0, 0, 0, 7]]), None],
                   [np.array([[3, 0, 1]]), np.array([[0, 0, 2], [0, 1, 0], [2, 2, 2]])]])


COUNTS_READS = [(None, None), (20.0, None), (30.0, None), (15.0, None), (5.0, None), (10.0, (0.0, 20.0))]


def continuous_video() -> dict:
    """Binned continuous float32 with NaN, video stimuli (C, H, W, T)."""
    rng = np.random.default_rng(3)
    nan = np.nan
    return W.defaults(
        stims=[rng.random((1, 2, 3, 5)).astype(np.float32)], stim_kind="video", encoding="binned",
        response_kind="continuous", dt_ms=1.0, uuid=U.format(4), neuron_ids=["eeg-1", "eeg-2"],
        file_meta={"source": "user", "title": "conformance: continuous", "response_units": "uV"},
        responses=[[np.array([[-65.25, nan, -64.0, 1e-8, 2.0], [nan, nan, 1.0, 3.0, nan]], np.float32),
                    np.array([[0.1, 0.2, 0.3, 0.4, 0.5]], np.float32)]])


CONT_READS = [(None, None), (2.0, None), (4.0, None), (0.5, None)]


def video_events() -> dict:
    """Events float32 times with video stimuli: frames pooled at k x dt, repeated at dt / m."""
    rng = np.random.default_rng(4)
    return W.defaults(
        stims=[rng.random((1, 2, 2, 4)).astype(np.float32), rng.random((1, 2, 2, 3)).astype(np.float32)],
        stim_kind="video", time_dtype="f4", dt_ms=20.0, uuid=U.format(5), neuron_ids=["v1"],
        file_meta={"source": "user", "title": "conformance: video"},
        responses=[[[np.array([0.5, 19.9, 20.0, 79.99], np.float32)]], [[np.array([], np.float32)] * 2]])


VIDEO_READS = [(None, None), (40.0, None), (10.0, None), (30.0, None), (20.0, (-20.0, 40.0))]


def fixed_strings() -> dict:
    """Ids and metadata stored as fixed-length strings (MATLAB style): valid, W207."""
    d = binned_counts()
    return dict(d, fixed_strings=True, uuid=U.format(6), stims=[d["stims"][0], d["stims"][0][..., :3]],
                stim_meta=[{"name": "a"}, {"name": "bé"}], neuron_ids=["c0", "cü1"])  # UTF-8 bytes in ASCII strings


def big_counts() -> dict:
    """Binned uint32 counts above 2^24 (float32 cannot hold them: SPEC §11.1)."""
    return W.defaults(stims=[np.zeros((1, 1, 2), np.float32)], encoding="binned", response_kind="counts",
                      count_dtype="u4", dt_ms=1.0, uuid=U.format(12), neuron_ids=["n"],
                      transform={"kind": "none"}, responses=[[np.array([[16777217, 3]])]])


def big_endian_fixed() -> dict:
    """Big-endian stimuli, n_bins, repeats (fixed-size types: HDF5 converts on read)."""
    d = video_events()
    return dict(d, byteorder=">", time_dtype="f4", uuid=U.format(7), vlen_byteorder="<")


def big_endian_vlen() -> dict:
    """Big-endian VLEN spike times and counts: readers return the right values or refuse."""
    d = events_spectrogram()
    return dict(d, byteorder=">", count_dtype="u2", uuid=U.format(8))


def zero_length() -> dict:
    """A stimulus of T = 0 bins (and spikes only outside its window)."""
    return W.defaults(stims=[np.zeros((1, 2, 0), np.float32), np.ones((1, 2, 2), np.float32)], dt_ms=10.0,
                      uuid=U.format(9), neuron_ids=["z"],
                      responses=[[[np.array([-1.0]), np.array([0.0, 5.0])]], [[np.array([20.0])]]])


ZERO_READS = [(None, None), (20.0, None), (10.0, (0.0, 20.0))]


def empty() -> dict:
    """S = 0 stimuli, N = 0 neurons."""
    return W.defaults(stims=[], neuron_ids=[], responses=[], stim_dims=[1, 3], uuid=U.format(10))


def version_1_0() -> dict:
    """A file of format 1.0 stays valid and readable (SPEC §2)."""
    return dict(binned_counts(), version="1.0", uuid=U.format(11))


def _sources(kind: str) -> list[dict]:
    a = events_spectrogram()
    b = W.defaults(
        stims=[a["stims"][1], np.full((1, 4, 3), 0.25, np.float32)], waveforms=[a["waveforms"][1], None],
        transform=a["transform"], dt_ms=5.0, uuid=U.format(21), stim_ids=["ripple 2", "new"],
        neuron_ids=["b1", "b2"], time_dtype="f4" if kind == "mixed" else "f8",
        file_meta={"source": "user", "title": "source b"},
        responses=[[[np.array([1.0, 2.0], np.float32)], None], [None, [np.array([0.0, 14.5], np.float32)] * 3]])
    if kind == "mixed":
        a = dict(a, time_dtype="f8")
    return [a, b]


def concat_case(name: str, merge: bool, paths: list[str], kind: str = "plain"):
    """A builder writing sources at ``paths`` (relative) and the concatenated file; returns its description."""
    def build(folder: str) -> dict:
        srcs = _sources(kind)
        for d, p in zip(srcs, paths):
            full = os.path.join(folder, *p.split("/"))
            os.makedirs(os.path.dirname(full), exist_ok=True)
            W.write(full, d)
        return _concat.write(os.path.join(folder, "file.strf.h5"), srcs, paths, merge, U.format(30))
    return build


CONCAT_READS = [(None, None), (10.0, None), (2.5, None)]
