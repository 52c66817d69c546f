"""Small strfh5 files for concatenation tests: contents, writing, comparing items."""


from __future__ import annotations


import numpy as np
import torch

import strfh5
from strfh5.records import Events
from strfh5.reader import dataset_from_contents


def make_contents(prefix, S, N, *, seed=0, events=True, F=4, dt_ms=5.0, stim_ids=None, big_counts=False,
                  area="A1"):
    rng = np.random.default_rng(seed)
    stims = [rng.random((1, F, 8 + 2 * s)).astype(np.float32) for s in range(S)]
    resp = []
    for s in range(S):
        row = []
        for n in range(N):
            if (s + n) % 3 == 2:
                row.append(None)
            elif events:
                R = 1 + (s + n) % 3
                row.append([np.sort(rng.random(rng.integers(0, 6)) * 60.0 - 5.0) for _ in range(R)])
            else:
                R = 1 + (s + n) % 3
                hi = 400 if big_counts else 4
                row.append(rng.integers(0, hi, (R, 8 + 2 * s)))
        resp.append(row)
    kw = dict(spike_times=resp) if events else dict(responses=resp)
    return strfh5.contents_from_lists(
        stims, dt_ms=dt_ms,
        stim_ids=stim_ids or [f"{prefix}-s{s}" for s in range(S)],
        neuron_ids=[f"{prefix}-n{n}" for n in range(N)],
        stim_meta=[{"name": f"{prefix} stim {s}"} for s in range(S)],
        nrn_meta=[{"area": area, "origin": prefix, "k": n} for n in range(N)],
        file_meta={"source": "user", "title": prefix}, **kw)


def write(tmp_path, name, contents):
    p = tmp_path / name
    strfh5.save(contents, p)
    return str(p)


def three_files(tmp_path):
    """Three small events files a, b, c in ``tmp_path``: (paths, contents)."""
    a = make_contents("a", 3, 4, seed=1)
    b = make_contents("b", 2, 3, seed=2)
    c = make_contents("c", 4, 2, seed=3)
    paths = [write(tmp_path, f"{x}.strf.h5", cc) for x, cc in zip("abc", (a, b, c))]
    return paths, [a, b, c]


def rows_equal(x, y):
    assert len(x) == len(y)
    for ex, ey in zip(x, y):
        if ex is None or ey is None:
            assert ex is None and ey is None
        elif isinstance(ex, Events):
            np.testing.assert_array_equal(ex.times, ey.times)
            np.testing.assert_array_equal(ex.counts, ey.counts)
        else:
            np.testing.assert_array_equal(ex, ey)


def items_equal(d1, d2):
    assert len(d1) == len(d2)
    for i in range(len(d1)):
        x, y = d1[i], d2[i]
        assert x["stim_index"] == y["stim_index"] and x["neuron_indices"] == y["neuron_indices"]
        assert x["stim_meta"] == y["stim_meta"]
        assert torch.equal(x["stims"], y["stims"])
        for p, q in zip(x["responses"], y["responses"]):
            assert p.shape == q.shape
            assert torch.equal(torch.nan_to_num(p, nan=-1.0), torch.nan_to_num(q, nan=-1.0))


def block_diag(reps):
    S = sum(r.shape[0] for r in reps)
    N = sum(r.shape[1] for r in reps)
    out = np.zeros((S, N), dtype=np.int64)
    s0 = n0 = 0
    for r in reps:
        out[s0 : s0 + r.shape[0], n0 : n0 + r.shape[1]] = r
        s0 += r.shape[0]
        n0 += r.shape[1]
    return out


# ------------------------------------------------------------------ structure


def eager(contents):
    """The eager dataset of ``contents`` (its modality's class)."""
    return dataset_from_contents(contents)
