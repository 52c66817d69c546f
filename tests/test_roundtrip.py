"""Property-based round trips: random ragged datasets write and read back bit-exactly.

Hypothesis draws the structure (S and N from 0 to dozens, sparse coverage
including all-missing rows and columns, repeats 1-30, T 1-2000, both
encodings, counts up to 70000, continuous float32 with NaN, spike times in
float64 or float32 including negatives, unicode ids and metadata, every
stimulus kind); numpy draws the values from a hypothesis-chosen seed.  Each
example is saved with :func:`strfh5.save` and read back through
:class:`strfh5.FileContents` and :func:`strfh5.load`; everything must match
to the bit (compared as bytes, so NaN payloads and -0.0 count).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import strfh5
from strfh5 import layout as L

#: total response values one example may hold (keeps the file fast)
BUDGET = 60_000

SETTINGS = settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    derandomize=False,
)

_json_scalar = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53), max_value=2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
)
_json_value = st.recursive(_json_scalar, lambda inner: st.lists(inner, max_size=3)
                           | st.dictionaries(st.text(max_size=6), inner, max_size=3), max_leaves=6)
# "k:" keeps random keys clear of the typed keys of the core schemas (name, sample_rate, snr, ...)
_meta = st.dictionaries(st.text(max_size=8).map(lambda k: "k:" + k), _json_value, max_size=4)
_id_text = st.text(st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)), min_size=1, max_size=10)


@st.composite
def datasets(draw):
    """Keyword arguments for :func:`strfh5.contents_from_lists` of a random dataset."""
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    S = draw(st.sampled_from([0, 1, 2, 3, 5, 8, 13, 24]))
    N = draw(st.sampled_from([0, 1, 2, 3, 4, 7, 12, 30]))
    kind = draw(st.sampled_from(["events", "counts", "continuous"]))
    stim_kind = draw(st.sampled_from([L.STIM_SPECTROGRAM, L.STIM_SPECTROGRAM, L.STIM_WAVEFORM, L.STIM_VIDEO]))
    t_max = draw(st.sampled_from([1, 8, 60, 400, 2000]))
    r_max = draw(st.sampled_from([1, 3, 30]))
    density = draw(st.sampled_from([0.0, 0.1, 0.5, 1.0]))
    T = rng.integers(1, t_max + 1, size=S)
    present = rng.random((S, N)) < density
    if S and N and draw(st.booleans()):  # an all-missing row and an all-missing column
        present[rng.integers(S)] = False
        present[:, rng.integers(N)] = False
    R = rng.integers(1, r_max + 1, size=(S, N))
    # stay within the value budget by dropping pairs (more sparsity, never a bigger file)
    cost = present * R * T[:, None]
    while cost.sum() > BUDGET:
        s, n = np.unravel_index(np.argmax(cost), cost.shape)
        present[s, n] = False
        cost[s, n] = 0
    big = draw(st.booleans())
    time_dtype = draw(st.sampled_from([np.float64, np.float32]))
    rows = []
    for s in range(S):
        row = []
        for n in range(N):
            if not present[s, n]:
                row.append(None)
                continue
            r, t = int(R[s, n]), int(T[s])
            if kind == "events":
                trials = []
                for _ in range(r):
                    k = int(rng.integers(0, 12))
                    x = rng.normal(t * 2.5, t * 3.0 + 50.0, size=k)  # negatives and post-stimulus times too
                    if k and rng.random() < 0.2:
                        x[0] = -0.0
                    trials.append(x.astype(time_dtype))
                row.append(trials)
            elif kind == "counts":
                a = rng.poisson(0.7, size=(r, t)).astype(np.int64)
                if big and a.size:
                    a.flat[rng.integers(a.size)] = int(rng.integers(256, 70001))
                row.append(a)
            else:
                a = rng.normal(size=(r, t)).astype(np.float32)
                a[rng.random((r, t)) < 0.1] = np.nan
                row.append(a)
        rows.append(row)
    stims, n_bins, rates, waves = [], None, None, None
    if stim_kind == L.STIM_SPECTROGRAM:
        F = int(rng.integers(1, 5))
        stims = [rng.normal(size=(1, F, int(T[s]))).astype(np.float32) for s in range(S)]
        if S and draw(st.booleans()):
            waves = [None if rng.random() < 0.3 else (rng.normal(size=(1, int(rng.integers(1, 50)))).astype(np.float32),
                                                      float(rng.integers(100, 50000))) for s in range(S)]
    elif stim_kind == L.STIM_WAVEFORM:
        stims = [rng.normal(size=(1, int(rng.integers(1, 300)))).astype(np.float32) for s in range(S)]
        n_bins = [int(x) for x in T]
        rates = [float(rng.uniform(100.0, 48000.0)) for _ in range(S)]
    else:
        H, W = int(rng.integers(1, 4)), int(rng.integers(1, 4))
        stims = [rng.random(size=(1, H, W, int(T[s]))).astype(np.float32) for s in range(S)]
    stim_ids = draw(st.lists(_id_text, min_size=S, max_size=S, unique=True))
    neuron_ids = draw(st.lists(_id_text, min_size=N, max_size=N, unique=True))
    kw = dict(
        stims=stims,
        dt_ms=draw(st.sampled_from([0.5, 1.0, 5.0, 10.0, 1000.0 / 24.0])),
        stim_meta=[draw(_meta) for _ in range(S)],
        nrn_meta=[draw(_meta) for _ in range(N)],
        stim_ids=stim_ids,
        neuron_ids=neuron_ids,
        stim_kind=stim_kind,
        file_meta={"source": "user", "title": draw(st.text(max_size=20)), "k:extra": draw(_meta)},
    )
    if n_bins is not None:
        kw.update(n_bins=n_bins, sample_rates=rates)
    if waves is not None:
        kw["waveforms"] = waves
    if draw(st.booleans()):
        kw["transform"] = {"kind": "synthetic", "params": draw(_meta)}
    if kind == "events":
        kw["spike_times"] = rows
    else:
        kw["responses"] = rows
        kw["response_kind"] = "counts" if kind == "counts" else "continuous"
    return kw


def _same_bytes(a, b) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def _expected_element(kw, s, n):
    """The element as the file must store it (None, (times, counts) or (R, T) array)."""
    if "spike_times" in kw:
        v = kw["spike_times"][s][n]
        if v is None:
            return None
        dtype = v[0].dtype if v else np.float64
        times = np.concatenate(v).astype(dtype) if v else np.empty(0, dtype)
        return times, np.array([t.size for t in v], dtype=np.int64)
    return kw["responses"][s][n]


def check_contents(c, kw):
    """``c`` (read back) holds exactly what ``kw`` described."""
    S, N = len(kw["stims"]), len(kw["neuron_ids"])
    assert (c.S, c.N) == (S, N)
    info = c.info
    assert info.encoding == ("events" if "spike_times" in kw else "binned")
    assert info.dt_ms == kw["dt_ms"]
    assert info.stim_kind == kw["stim_kind"]
    assert info.metadata == kw["file_meta"]
    assert info.transform == kw.get("transform")
    assert c.stim_ids == kw["stim_ids"] and c.neuron_ids == kw["neuron_ids"]
    assert c.stim_meta == kw["stim_meta"] and c.nrn_meta == kw["nrn_meta"]
    masks = np.array([[_expected_element(kw, s, n) is not None for n in range(N)] for s in range(S)],
                     dtype=bool).reshape(S, N)
    assert np.array_equal(c.masks, masks)
    for s in range(S):
        assert _same_bytes(c.stim(s), kw["stims"][s])
        if kw["stim_kind"] == L.STIM_WAVEFORM:
            assert int(c.n_bins[s]) == kw["n_bins"][s]
            assert c.stim_sample_rate(s) == kw["sample_rates"][s]
        else:
            assert int(c.n_bins[s]) == kw["stims"][s].shape[-1]
        wf = kw.get("waveforms")
        got_wf = c.waveform(s)
        if wf is None or wf[s] is None:
            assert got_wf is None
        else:
            assert _same_bytes(got_wf[0], wf[s][0]) and got_wf[1] == wf[s][1]
        row = c.row(s)
        for n in range(N):
            want, got = _expected_element(kw, s, n), row[n]
            if want is None:
                assert got is None, (s, n)
            elif info.encoding == "events":
                assert _same_bytes(got.times, want[0]), (s, n)
                assert np.array_equal(got.counts, want[1]), (s, n)
            elif info.response_kind == "continuous":
                assert _same_bytes(got, want), (s, n)
            else:
                assert got.shape == want.shape and np.array_equal(got.astype(np.int64), want), (s, n)
    if info.encoding == "binned" and info.response_kind == "counts":
        vals = [int(kw["responses"][s][n].max()) for s in range(S) for n in range(N)
                if kw["responses"][s][n] is not None and kw["responses"][s][n].size]
        assert c.stored_dtype() == L.smallest_uint(max(vals, default=0)) or not vals


@SETTINGS
@given(kw=datasets())
def test_save_and_read_back_bit_exact(tmp_path_factory, kw):
    path = tmp_path_factory.mktemp("rt") / "x.strf.h5"
    mem = strfh5.contents_from_lists(**kw)
    strfh5.save(mem, path)
    with strfh5.FileContents(path) as c:
        check_contents(c, kw)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(kw=datasets())
def test_load_and_resave_identical(tmp_path_factory, kw):
    """Through the reader: masks, stimuli and binned responses as written; save(load(f)) == f."""
    torch = pytest.importorskip("torch")
    d = tmp_path_factory.mktemp("rt2")
    strfh5.save(strfh5.contents_from_lists(**kw), d / "a.strf.h5")
    ds = strfh5.load(d / "a.strf.h5")
    S, N = len(kw["stims"]), len(kw["neuron_ids"])
    assert ds.nrn_masks.shape == (S, N)
    masks = ds.nrn_masks.numpy()
    for s in range(S):
        assert np.array_equal(np.asarray(ds.stims[s].numpy(), dtype=np.float64),
                              kw["stims"][s].astype(np.float64))
        for n in range(N):
            want = _expected_element(kw, s, n)
            got = ds.responses[s][n]
            assert masks[s, n] == (want is not None)
            if want is None:
                assert got.shape == (1, 1) and bool(torch.isnan(got).all())
            elif "responses" in kw:
                assert np.array_equal(got.numpy().astype(np.float64), want.astype(np.float64), equal_nan=True)
            else:
                T = int(kw["stims"][s].shape[-1]) if kw["stim_kind"] != L.STIM_WAVEFORM else kw["n_bins"][s]
                assert got.shape[0] == want[1].size
                inside = [(t >= 0) & (t < T * kw["dt_ms"]) for t in kw["spike_times"][s][n]]
                # spikes exactly at a bin edge are rare in floats; allow none of them to be lost in total
                assert int(got.sum()) == sum(int(i.sum()) for i in inside)
    strfh5.save(ds, d / "b.strf.h5")
    with strfh5.FileContents(d / "b.strf.h5") as c:
        check_contents(c, kw)


def test_unicode_and_json_metadata_exact(tmp_path):
    """Non-ASCII ids and metadata (emoji, CJK, RTL, escapes) come back identical."""
    meta = {"name": "chant d'oiseau 🐦 — 鳥の歌", "k:rtl": "שלום", "k:esc": "a\"b\\c\n\t\u0000",
            "k:nested": {"x": [1, 2.5, None, True, "é"]}, "k:big": 2**53, "k:tiny": 5e-324}
    kw = dict(stims=[np.ones((1, 2, 3), np.float32)], responses=[[np.ones((1, 3)), None]], dt_ms=5,
              stim_meta=[meta], nrn_meta=[{"cell_id": "ünït-1"}, {}], stim_ids=["ß-0"], neuron_ids=["ñ", "🙂"],
              file_meta={"source": "user", "title": "ünïcode ✓"})
    strfh5.save(strfh5.contents_from_lists(**kw), tmp_path / "u.strf.h5")
    with strfh5.FileContents(tmp_path / "u.strf.h5") as c:
        assert c.stim_meta == [json.loads(json.dumps(meta))]
        assert c.stim_ids == ["ß-0"] and c.neuron_ids == ["ñ", "🙂"]
        assert c.info.metadata["title"] == "ünïcode ✓"


def test_nul_in_id_refused(tmp_path):
    """HDF5 strings cannot hold NUL: refused up front with InvalidDataError, never a raw ValueError."""
    with pytest.raises(strfh5.InvalidDataError, match="NUL"):
        strfh5.contents_from_lists(stims=[np.ones((1, 2, 3), np.float32)], responses=[[None]], dt_ms=5,
                                   stim_ids=["a\x00b"])
    w = strfh5.StreamWriter(tmp_path / "n.strf.h5", encoding="binned", dt_ms=5, stim_kind="spectrogram",
                            stim_dims=(1, 2), neuron_ids=["x"])
    with pytest.raises(strfh5.InvalidDataError, match="NUL"):
        w.add_stimulus(np.ones((1, 2, 3), np.float32), id="bad\x00id")
    w.abort()
    assert not (tmp_path / "n.strf.h5").exists()
