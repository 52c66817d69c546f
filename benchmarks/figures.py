"""One function per measurement; each runs in its own process (:mod:`benchmarks.isolate`).

Every timed function repeats its measurement up to ``k`` times (stopping
early once ``budget_s`` seconds are spent, after at least one run) and
returns the individual times and their median, so a figure is stable on a
busy machine and a slow baseline does not eat the whole run.  Files are read
warm (the page cache holds them after generation or a previous figure), as a
training loop that reads the same file every epoch does.

``FIGURES`` maps the names used by :mod:`benchmarks.suite` to the functions,
including the ``prepare_*`` steps that generate cached files, run in a child
too so the suite process stays small.
"""

from __future__ import annotations

import gc
import importlib.util
import os
import random
import statistics
import time
from typing import Callable

import numpy as np

from .figures_io import IO_FIGURES

__all__ = ["FIGURES", "repeat"]


def repeat(fn: Callable[[], object], k: int, budget_s: float = 60.0) -> list[float]:
    """Wall times of up to ``k`` calls of ``fn`` (at least one; stop once ``budget_s`` is spent)."""
    times: list[float] = []
    spent = 0.0
    for _ in range(max(1, int(k))):
        gc.collect()
        t = time.perf_counter()
        out = fn()
        dt = time.perf_counter() - t
        del out
        times.append(dt)
        spent += dt
        if spent >= budget_s:
            break
    return times


def _timed(times: list[float], **extra) -> dict:
    return dict(times_s=[round(t, 6) for t in times], median_s=statistics.median(times), k=len(times), **extra)


def _scale(name: str, quick: bool):
    from . import scales

    table = scales.QUICK_SCALES if quick else scales.SCALES
    return table[name]


# ------------------------------------------------------------------ preparation
def prepare_simulated(data_dir: str, scale: str, quick: bool, encoding: str | None = None) -> dict:
    from . import scales

    path, secs = scales.simulated(data_dir, _scale(scale, quick), encoding)
    return dict(path=path, generation_s=secs, bytes=os.path.getsize(path))


def prepare_grown(data_dir: str, scale: str, quick: bool, encoding: str) -> dict:
    from . import scales

    path, secs = scales.grown(data_dir, _scale(scale, quick), encoding)
    return dict(path=path, generation_s=secs, bytes=os.path.getsize(path))


def prepare_baselines(src: str) -> dict:
    """Write baselines (a) and (b) of ``src`` beside it unless cached."""
    import strfh5

    from . import baselines

    stem = src[: -len(".strf.h5")] if src.endswith(".strf.h5") else src
    pt, naive = stem + ".deepstrf.pt", stem + ".naive.h5"
    out = dict(deepstrf=pt, naive=naive, generation_s=None)
    if os.path.exists(pt) and os.path.exists(naive):
        return out
    t = time.perf_counter()
    obj = baselines.deepstrf_lists(strfh5.load(src))
    if not os.path.exists(pt):
        baselines.save_deepstrf(obj, pt)
    if not os.path.exists(naive):
        baselines.write_naive_h5(obj, naive)
    out["generation_s"] = time.perf_counter() - t
    return out


def prepare_quality(data_dir: str, quick: bool) -> dict:
    from . import scales

    sc = scales.QUICK_QUALITY if quick else scales.QUALITY
    path, secs = scales.simulated(data_dir, sc, sc.encoding)
    return dict(path=path, generation_s=secs, bytes=os.path.getsize(path))


def prepare_concat(data_dir: str, size_label: str, target_bytes: int) -> dict:
    from . import scales

    paths, secs = scales.concat_pair(data_dir, size_label, int(target_bytes))
    return dict(paths=paths, generation_s=secs, bytes=[os.path.getsize(p) for p in paths])


def prepare_large(data_dir: str, target_gb: float, quick: bool = False) -> dict:
    from . import scales

    base = scales.QUICK_SCALES["aa2"] if quick else scales.SCALES["aa2"]
    path, secs = scales.large(data_dir, float(target_gb), base)
    return dict(path=path, generation_s=secs, bytes=os.path.getsize(path))


#: the file of the spectrogram figures: AA1-like, waveforms kept (quick, full)
SPECTRO_PARAMS = (dict(n_stimuli=6, n_neurons=20, n_bins=(150, 200), seed=14),
                  dict(n_stimuli=30, n_neurons=100, n_bins=(330, 501), seed=14))


def prepare_spectro(data_dir: str, quick: bool) -> dict:
    """An AA1-like file (32 kHz sounds, 5 ms, 32 mel bands) keeping its waveforms, unless cached."""
    import strfh5

    from . import scales

    params = dict(SPECTRO_PARAMS[0 if quick else 1], keep_waveform=True)
    parts = dict(preset="aa1", params=params)
    path = scales.cache_path(data_dir, "spectro-aa1" + ("-quick" if quick else ""), parts)
    path, secs = scales._ensure(path, lambda p: strfh5.write_simulated(p, preset="aa1", **params), parts)
    return dict(path=path, generation_s=secs, bytes=os.path.getsize(path))


def spectro_epoch(path: str, n_bands: int | None = None, k: int = 3, batch: int = 8, budget_s: float = 60.0) -> dict:
    """One lazy DataLoader epoch (workers 0): stored spectrograms (``n_bands`` None) or recomputed ones.

    With ``n_bands`` every item recomputes its spectrogram from the kept
    waveform (``strfh5.load(path, lazy=True, n_bands=n_bands)``).
    """
    import strfh5

    ds = strfh5.load(path, lazy=True, n_bands=n_bands)
    counts = {}

    def run():
        nb = 0
        for _ in _loader(ds, 0, batch):
            nb += 1
        counts["batches"] = nb

    times = repeat(run, k, budget_s)
    return _timed(times, batches=counts["batches"], items=len(ds), F=ds.F, recomputed=n_bands is not None)


# ------------------------------------------------------------------ loading
def eager_load(path: str, k: int = 3, budget_s: float = 60.0) -> dict:
    import strfh5

    holder = {}

    def run():
        holder["ds"] = None
        holder["ds"] = strfh5.load(path)

    times = repeat(run, k, budget_s)
    ds = holder["ds"]
    return _timed(times, n_pairs=int(ds._masks_np.sum()), S=ds.get_S(), N=ds.get_N())


def torch_load(path: str, k: int = 3, budget_s: float = 60.0) -> dict:
    from .baselines import load_deepstrf

    holder = {}

    def run():
        holder["obj"] = None
        holder["obj"] = load_deepstrf(path)

    return _timed(repeat(run, k, budget_s), bytes=os.path.getsize(path))


def naive_load(path: str, k: int = 3, budget_s: float = 60.0) -> dict:
    from .baselines import load_naive_h5

    holder = {}

    def run():
        holder["obj"] = None
        holder["obj"] = load_naive_h5(path)

    return _timed(repeat(run, k, budget_s), bytes=os.path.getsize(path))


def raw_rows(path: str, k: int = 3, budget_s: float = 60.0) -> dict:
    from .baselines import raw_rows as read

    n = {}

    def run():
        n["values"] = read(path)

    times = repeat(run, k, budget_s)
    return _timed(times, values=n["values"])


def lazy_open(path: str, k: int = 7, budget_s: float = 20.0) -> dict:
    """Time ``strfh5.load(path, lazy=True)`` (+ close) after one untimed warm-up open."""
    import strfh5

    strfh5.load(path, lazy=True).close()  # imports, HDF5 library start-up

    def run():
        ds = strfh5.load(path, lazy=True)
        ds.close()

    return _timed(repeat(run, k, budget_s), bytes=os.path.getsize(path))


# ------------------------------------------------------------------ iteration
def _loader(ds, workers: int, batch: int):
    import torch

    import strfh5

    return torch.utils.data.DataLoader(ds, batch_size=batch, shuffle=False, num_workers=workers,
                                       collate_fn=strfh5.neural_collate)


def epoch(path: str, mode: str, k: int = 3, batch: int = 8, budget_s: float = 60.0) -> dict:
    """One DataLoader epoch (batch ``batch``, all neurons, ``neural_collate``).

    ``mode``: ``'memory'`` (eager dataset, workers 0), ``'lazy0'`` (lazy,
    workers 0), ``'lazy2'`` (lazy, workers 2, worker start-up included) or
    ``'lazy0c'`` (lazy, workers 0, the opt-in row cache on: ``STRFH5_ROW_CACHE_MB=4096``
    in this figure's process).
    The eager load is not part of the timed epoch. One untimed epoch runs
    first in every mode, so the timed one is a training loop's steady state
    (a lazy dataset's per-process caches filled; workers 2 start afresh each
    epoch, as a DataLoader without ``persistent_workers`` does).
    """
    import strfh5

    lazy = mode != "memory"
    if mode.endswith("c"):
        os.environ["STRFH5_ROW_CACHE_MB"] = "4096"
        mode = mode[:-1]
    workers = int(mode[4:]) if mode.startswith("lazy") else 0
    ds = strfh5.load(path, lazy=lazy)
    counts = {}

    def run():
        nb = 0
        for b in _loader(ds, workers, batch):
            nb += 1
        counts["batches"] = nb

    run()  # warm-up epoch (untimed)
    times = repeat(run, k, budget_s)
    return _timed(times, batches=counts["batches"], items=len(ds), workers=workers, lazy=lazy, warmup=1)


def random_access(path: str, n: int = 200, seed: int = 0, lazy: bool = True) -> dict:
    """Latency of ``ds[i]`` for ``n`` random items (all neurons), after 3 untimed warm-up reads."""
    import strfh5

    ds = strfh5.load(path, lazy=lazy)
    rng = random.Random(seed)
    L = len(ds)
    for _ in range(3):
        ds[rng.randrange(L)]
    lat = []
    for _ in range(n):
        i = rng.randrange(L)
        t = time.perf_counter()
        ds[i]
        lat.append(time.perf_counter() - t)
    a = np.asarray(lat)
    return dict(n=n, p50_s=float(np.percentile(a, 50)), p99_s=float(np.percentile(a, 99)),
                mean_s=float(a.mean()), max_s=float(a.max()))


# ------------------------------------------------------------------ quality
def _reference_module():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    p = os.path.join(root, "tests", "reference_metrics.py")
    if not os.path.exists(p):
        raise FileNotFoundError(f"{p}: the loop reference of compute_neuron_quality is not in this checkout")
    spec = importlib.util.spec_from_file_location("strfh5_reference_metrics", p)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


class _NeuronSubset:
    """The first ``n`` neurons of a dataset, as ``reference_neuron_quality`` sees a dataset."""

    def __init__(self, ds, n: int):
        self.ds, self.neurons = ds, list(range(n))

    def get_S(self):
        return self.ds.get_S()

    def get_N(self):
        return len(self.neurons)

    def row_tensors(self, s):
        return self.ds.row_tensors(s, self.neurons)


def quality_time(path: str, k: int = 3, budget_s: float = 60.0) -> dict:
    """``compute_neuron_quality`` on an eager dataset (data in memory: the metric, not the I/O)."""
    import strfh5

    ds = strfh5.load(path)
    times = repeat(lambda: ds.compute_neuron_quality(), k, budget_s)
    return _timed(times, N=ds.get_N(), S=ds.get_S())


def quality_reference(path: str, n_neurons: int | None = None) -> dict:
    """The loop reference on the first ``n_neurons`` neurons, extrapolated linearly to all of them.

    Also checks that the library's values for those neurons equal the
    reference's (max absolute difference where both are finite, and the same
    NaN pattern).
    """
    import strfh5

    ref = _reference_module()
    ds = strfh5.load(path)
    N = ds.get_N()
    n = N if not n_neurons else min(int(n_neurons), N)
    sub = _NeuronSubset(ds, n)
    gc.collect()
    t = time.perf_counter()
    r = ref.reference_neuron_quality(sub)
    dt = time.perf_counter() - t
    lib = ds.compute_neuron_quality()
    diffs = {}
    for key in ("snr", "ccmax"):
        a = np.asarray(lib[key][:n], dtype=np.float64)
        b = np.asarray(r[key], dtype=np.float64)
        both = np.isfinite(a) & np.isfinite(b)
        diffs[key] = dict(max_abs_diff=float(np.max(np.abs(a[both] - b[both]))) if both.any() else 0.0,
                          same_nonfinite=bool(np.array_equal(np.isfinite(a), np.isfinite(b))))
    return dict(seconds_measured=dt, neurons_measured=n, N=N, extrapolated_s=dt * N / n, agreement=diffs)


def quality_memory(path: str) -> dict:
    """Peak memory of ``compute_neuron_quality`` on a lazy dataset, against one stimulus slab.

    A slab is one stimulus row of every neuron as float32 (``sum_n R_sn x T_s
    x 4`` bytes; the largest over stimuli).  The extra peak of a call is
    ``VmHWM`` after it minus ``VmRSS`` before it, with the peak reset just
    before the call (Linux ``/proc/self/clear_refs``).  Reported for the first
    call in the process (``cold``: includes one-time start-up of the linear
    algebra and allocator pools) and for a second call (``warm``: the memory
    the computation itself needs, the figure compared with the slab).
    """
    import strfh5

    from .isolate import reset_peak, status_mb

    ds = strfh5.load(path, lazy=True)
    ds.row_tensors(0)  # HDF5 chunk cache, file handle
    slab = max(int(np.asarray(ds.contents.repeats[s]).sum()) * int(ds.n_bins[s]) * 4 for s in range(ds.get_S()))
    out = dict(slab_mb=slab / 2**20)
    for phase in ("cold", "warm"):
        gc.collect()
        ok = reset_peak()
        before = status_mb("VmRSS")
        t = time.perf_counter()
        ds.compute_neuron_quality()
        dt = time.perf_counter() - t
        peak = status_mb("VmHWM")
        extra = None if (before is None or peak is None or not ok) else (peak - before)
        out[phase] = dict(extra_peak_mb=extra, seconds=dt)
    out["extra_peak_mb"] = out["warm"]["extra_peak_mb"]
    out["peak_reset"] = ok
    return out


# ------------------------------------------------------------------ concat
def concat_time(paths: list, out: str, k: int = 5, budget_s: float = 30.0) -> dict:
    import strfh5

    def run():
        if os.path.exists(out):
            os.remove(out)
        strfh5.concat(paths, out)

    times = repeat(run, k, budget_s)
    return _timed(times, bytes=os.path.getsize(out), source_bytes=[os.path.getsize(p) for p in paths])


def concat_iteration(paths: list, out: str, k: int = 3, batch: int = 8, budget_s: float = 60.0) -> dict:
    """Lazy epoch (workers 0) over the concatenated file vs over each source in turn."""
    import strfh5

    if not os.path.exists(out):
        strfh5.concat(paths, out)
    cat = strfh5.load(out, lazy=True)
    srcs = [strfh5.load(p, lazy=True) for p in paths]

    def over(dsets):
        def run():
            for d in dsets:
                for _ in _loader(d, 0, batch):
                    pass
        return run

    t_cat = repeat(over([cat]), k, budget_s)
    t_src = repeat(over(srcs), k, budget_s)
    return dict(concat=_timed(t_cat), sources=_timed(t_src), items_concat=len(cat),
                items_sources=sum(len(d) for d in srcs))


# ------------------------------------------------------------------ large
def large_epoch(path: str, workers: int = 0, batch: int = 8) -> dict:
    """One lazy epoch over the ``large`` file; the suite reads its peak RSS."""
    import strfh5

    ds = strfh5.load(path, lazy=True)
    t = time.perf_counter()
    nb = 0
    for _ in _loader(ds, workers, batch):
        nb += 1
    return dict(seconds=time.perf_counter() - t, batches=nb, items=len(ds), bytes=os.path.getsize(path),
                workers=workers)


# ------------------------------------------------------------------ remote
def prepare_remote(data_dir: str, target_mb: float) -> dict:
    """A plain file of about ``target_mb`` MB (continuous responses, 64 neurons x 1000 bins per row)."""
    from . import scales

    folder = os.path.join(data_dir, "remote")
    parts = dict(kind="continuous", label="R", bytes=int(target_mb * 1e6), N=64, T=1000)
    path = scales.cache_path(folder, "remote", parts)
    path, secs = scales._ensure(path, lambda q: scales.continuous_source(q, "R", target_mb * 1e6), parts)
    return dict(path=path, generation_s=secs, bytes=os.path.getsize(path))


def remote_transfer(path: str, block_sizes: tuple = (65536, 262144, 1048576)) -> dict:
    """Requests and bytes sent by a local Range server to open ``path`` lazily and read one item.

    For each block size: open (``strfh5.load(url, lazy=True)``: superblock,
    tables, ``/repeats``), then ``ds[S // 2]`` (its response row and
    stimulus); the item's stored bytes are reported beside it.
    """
    import h5py

    import strfh5
    from strfh5.h5io import remote

    from .range_server import RangeServer

    size = os.path.getsize(path)
    with h5py.File(path, "r") as f:
        S = f["stimuli/ids"].shape[0]
        s = S // 2
        row = sum(np.asarray(x).nbytes for x in f["responses"][s])
        stim = f[f"stimuli/{s:06d}/data"].id.get_storage_size()
    out = dict(bytes=size, item_stored_bytes=int(row + stim), runs=[])
    with RangeServer(os.path.dirname(path)) as srv:
        url = srv.url(os.path.basename(path))
        for bs in block_sizes:
            remote.DEFAULT_BLOCK_SIZE = int(bs)
            srv.reset()
            ds = strfh5.load(url, lazy=True)
            n_open, b_open = srv.totals()
            srv.reset()
            ds[s]
            n_item, b_item = srv.totals()
            ds.close()
            out["runs"].append(dict(block_size=int(bs), open_requests=n_open, open_bytes=b_open,
                                    item_requests=n_item, item_bytes=b_item))
    return out


FIGURES: dict[str, Callable[..., dict]] = {
    f.__name__: f
    for f in (
        prepare_simulated, prepare_grown, prepare_baselines, prepare_quality, prepare_concat, prepare_large,
        eager_load, torch_load, naive_load, raw_rows, lazy_open, epoch, random_access,
        quality_time, quality_reference, quality_memory, concat_time, concat_iteration, large_epoch,
        prepare_remote, remote_transfer,
        prepare_spectro, spectro_epoch,
    )
}
FIGURES.update(IO_FIGURES)
