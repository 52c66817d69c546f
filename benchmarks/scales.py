"""Named benchmark scales and the cache of generated files.

Every dataset is streamed to disk through :class:`strfh5.StreamWriter`:

* a scale in its *native* encoding (the one its public release publishes:
  spike times for CRCNS AA1/AA2, binned counts for NAT4) comes from
  :func:`strfh5.write_simulated` with the scale's preset — Poisson
  linear-nonlinear neurons driven by synthetic sounds;
* the same scale in the *other* encoding is re-encoded from the native file
  (:func:`reencode`): spike times binned at the file's ``dt_ms`` over the
  stimulus window (exactly what the simulator's ``binned`` output holds), or
  binned counts turned into spike times uniform within their bins (what its
  ``events`` output holds, less the spontaneous spikes outside the stimulus,
  which the NAT4 preset does not draw).  Re-encoding costs seconds where
  simulating the sounds again costs minutes;
* the ``8x`` file of a scale (lazy open must not depend on the data size)
  repeats every recorded repeat 8 times (:func:`grow`): same S, N and
  tables, a response heap 8 times larger;
* ``large`` (only on request) tiles the rows of ``aa2`` along the stimulus
  axis until the file reaches the requested size (20 GB by default), so that
  items stay the size of AA2 items while the file outgrows the page cache;
* concatenation sources are continuous float32 signals (:func:`continuous_source`):
  the fastest way to write a file of a given size.

Files are cached in a folder (``bench_output/data/`` by default) under names
keyed by the scale, the encoding, :data:`benchmarks.GENERATOR_VERSION`, a hash
of the generation parameters and a hash of the ``strfh5/simulate/`` sources: a rerun
reuses them, a changed generator makes new ones.  The writer renames a file
into place only when it is complete, so a file present under its key is whole.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
from dataclasses import dataclass, field

import numpy as np

from . import GENERATOR_VERSION

__all__ = [
    "Scale",
    "SCALES",
    "QUICK_SCALES",
    "DEFAULT_SCALES",
    "QUALITY",
    "QUICK_QUALITY",
    "cache_path",
    "simulated",
    "reencode",
    "grow",
    "continuous_source",
    "large",
    "other_encoding",
]


@dataclass(frozen=True)
class Scale:
    """A named dataset shape.

    Attributes
    ----------
    name : str
        Name used on the command line and in cache keys.
    preset : str
        :data:`strfh5.simulate.PRESETS` entry it starts from.
    params : dict
        Overrides of the preset (``write_simulated`` keyword arguments).
    encoding : {'events', 'binned'}
        Native encoding (that of the public release it mimics).
    shape : str
        Human description for the report.
    """

    name: str
    preset: str
    params: dict = field(default_factory=dict)
    encoding: str = "events"
    shape: str = ""


#: the releases' neuron metadata holds no filter, so the benchmark scales leave out the simulator's
#: ground-truth STRF (``store_strf=False``); the quality dataset keeps it (see ``QUALITY``)
_RELEASE_LIKE = dict(store_strf=False)

SCALES: dict[str, Scale] = {
    "aa1": Scale("aa1", "aa1", dict(_RELEASE_LIKE), "events",
                 "S=30, N=100, R 9-10, T 330-501 @ 5 ms, F=32, 98.7% coverage"),
    "aa2": Scale("aa2", "aa2", dict(_RELEASE_LIKE), "events",
                 "S=117, N=494, R 10-20, T 360-440 @ 5 ms, F=32, sparse classes"),
    "nat4-a1": Scale("nat4-a1", "nat4-a1", dict(_RELEASE_LIKE), "binned",
                     "S=593 (575 R=1 + 18 R=20), N=849, T=150 @ 10 ms, F=18, 33 neurons without val"),
}

#: tiny versions of the scales, for ``--quick`` (smoke mode)
QUICK_SCALES: dict[str, Scale] = {
    "aa1": Scale("aa1-quick", "aa1", dict(n_stimuli=6, n_neurons=12, n_bins=(60, 90), **_RELEASE_LIKE), "events",
                 "S=6, N=12, R 9-10, T 60-90 @ 5 ms, F=32"),
    "aa2": Scale("aa2-quick", "aa2", dict(n_stimuli=8, n_neurons=16, n_bins=(60, 90), **_RELEASE_LIKE), "events",
                 "S=8, N=16, R 10-20, T 60-90 @ 5 ms, F=32"),
    "nat4-a1": Scale("nat4-a1-quick", "nat4-a1",
                     dict(n_stimuli=12, n_val=3, n_neurons=20, no_val_neurons=2, n_bins=60, **_RELEASE_LIKE), "binned",
                     "S=12 (9 R=1 + 3 R=20), N=20, T=60 @ 10 ms, F=18"),
}

DEFAULT_SCALES = ("aa1", "aa2", "nat4-a1")

#: NAT4 validation scale for the quality-metric figure: 849 neurons, 18 stimuli x 20 repeats x 150 bins.
#: Its neuron metadata keep the simulator's ground-truth STRFs (18 x 10 floats each), which makes it
#: also the test of lazy open with heavy metadata.
QUALITY = Scale("nat4-val", "nat4-a1", dict(n_stimuli=18, n_val=18, no_val_neurons=0), "binned",
                "N=849, 18 stimuli x 20 repeats x 150 bins @ 10 ms")
QUICK_QUALITY = Scale("nat4-val-quick", "nat4-a1",
                      dict(n_stimuli=3, n_val=3, no_val_neurons=0, n_neurons=24, n_bins=60), "binned",
                      "N=24, 3 stimuli x 20 repeats x 60 bins @ 10 ms")

#: rows repeated by :func:`grow` for the lazy-open size test
GROW_FACTOR = 8


def other_encoding(encoding: str) -> str:
    return "binned" if encoding == "events" else "events"


def _simulate_hash() -> str:
    """A digest of every module of the simulator package (names and contents)."""
    import strfh5.simulate as sim

    folder = os.path.dirname(sim.__file__)
    digest = hashlib.sha1()
    for name in sorted(os.listdir(folder)):
        if name.endswith(".py"):
            digest.update(name.encode())
            with open(os.path.join(folder, name), "rb") as f:
                digest.update(f.read())
    return digest.hexdigest()[:8]


def _key(parts: dict) -> str:
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha1(text.encode()).hexdigest()[:10]


def cache_path(data_dir: str, stem: str, parts: dict, suffix: str = ".strf.h5") -> str:
    """``data_dir/<stem>-g<version>-<hash of parts and the simulator><suffix>``."""
    parts = dict(parts, generator=GENERATOR_VERSION, simulate=_simulate_hash())
    return os.path.join(data_dir, f"{stem}-g{GENERATOR_VERSION}-{_key(parts)}{suffix}")


def _manifest(path: str, what: dict, seconds: float) -> None:
    doc = dict(what, path=os.path.basename(path), bytes=os.path.getsize(path), generation_s=round(seconds, 2),
               generator_version=GENERATOR_VERSION)
    with open(path + ".json", "w") as f:
        json.dump(doc, f, indent=1, default=str)


def _ensure(path: str, make, what: dict) -> tuple[str, float | None]:
    """Make ``path`` with ``make(path)`` unless it exists; returns (path, seconds spent or None)."""
    if os.path.exists(path):
        return path, None
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    t = time.perf_counter()
    make(path)
    dt = time.perf_counter() - t
    _manifest(path, what, dt)
    return path, dt


# ------------------------------------------------------------------ datasets
def simulated(data_dir: str, scale: Scale, encoding: str | None = None) -> tuple[str, float | None]:
    """Path of ``scale`` in ``encoding`` (native by default), generated if missing.

    Returns
    -------
    (path, seconds)
        ``seconds`` is the generation time, None when the file was cached.
    """
    import strfh5

    encoding = encoding or scale.encoding
    parts = dict(preset=scale.preset, params=scale.params, encoding=encoding, native=scale.encoding)
    path = cache_path(data_dir, f"{scale.name}-{encoding}", parts)
    if encoding == scale.encoding:
        return _ensure(path, lambda p: strfh5.write_simulated(p, preset=scale.preset, encoding=encoding,
                                                              **scale.params), parts)
    native, _ = simulated(data_dir, scale, scale.encoding)
    return _ensure(path, lambda p: reencode(native, p, encoding), dict(parts, from_file=os.path.basename(native)))


def grown(data_dir: str, scale: Scale, encoding: str, factor: int = GROW_FACTOR) -> tuple[str, float | None]:
    """``scale`` in ``encoding`` with every repeat repeated ``factor`` times (see :func:`grow`)."""
    src, _ = simulated(data_dir, scale, encoding)
    parts = dict(preset=scale.preset, params=scale.params, encoding=encoding, grow=factor)
    path = cache_path(data_dir, f"{scale.name}-{encoding}-x{factor}", parts)
    return _ensure(path, lambda p: grow(src, p, factor), dict(parts, from_file=os.path.basename(src)))


def _writer_like(contents, dst: str, encoding: str, note: str, **kw):
    """A StreamWriter for ``dst`` with the tables of ``contents`` and ``encoding``."""
    from strfh5 import StreamWriter

    info = contents.info
    meta = dict(info.metadata)
    meta["benchmark_derivation"] = note
    return StreamWriter(
        dst, encoding=encoding, dt_ms=info.dt_ms, stim_kind=info.stim_kind, stim_dims=info.stim_dims,
        neuron_ids=contents.neuron_ids, nrn_meta=contents.nrn_meta, file_meta=meta,
        schemas=info.schemas, transform=info.transform, overwrite=True, **kw,
    )


def _copy_stimulus(w, contents, s: int, sid: str | None = None) -> None:
    w.add_stimulus(contents.stim(s), id=sid or contents.stim_ids[s], meta=contents.stim_meta[s],
                   n_bins=int(contents.n_bins[s]))


def _split_block(data: np.ndarray, reps: np.ndarray) -> list:
    out, a = [], 0
    for r in reps.tolist():
        out.append(None if r == 0 else data[a: a + r])
        a += r
    return out


def reencode(src: str, dst: str, encoding: str, seed: int = 0) -> str:
    """Write ``src`` again in ``encoding``.

    events → binned: spike counts per bin of the file's ``dt_ms`` over the
    stimulus window ``[0, n_bins * dt)`` (``numpy.histogram`` edges).
    binned → events: each count becomes that many spike times drawn uniformly
    within its bin (seeded per stimulus row), sorted within each repeat.
    """
    from strfh5.binning import plan
    from strfh5.contents import FileContents
    from strfh5.records import Events

    with FileContents(src) as c:
        if c.info.encoding == encoding:
            raise ValueError(f"{src} is already {encoding}")
        grid = plan(c.info, where=c.path)
        dt = c.info.dt_ms
        note = f"re-encoded from {os.path.basename(src)} ({c.info.encoding} -> {encoding})"
        with _writer_like(c, dst, encoding, note) as w:
            for s in range(c.S):
                _copy_stimulus(w, c, s)
                raw = c.raw_row(s)
                T = int(c.n_bins[s])
                if encoding == "binned":
                    data, reps = grid.bin_raw(raw, T)
                    w.write_row(s, _split_block(data.astype(np.uint32), reps))
                    continue
                reps = raw.reps
                total = int(reps.sum())
                counts = np.asarray(raw.values).reshape(total, T).astype(np.int64) if total else np.zeros((0, T), np.int64)
                rng = np.random.default_rng([seed, s])
                flat = counts.reshape(-1)
                cell = np.repeat(np.arange(flat.size), flat)
                rows = cell // T if T else cell
                times = ((cell % T) + np.minimum(rng.random(cell.size), 1 - 1e-9)) * dt
                order = np.lexsort((times, rows))
                times = times[order]
                per_rep = np.bincount(rows, minlength=total)
                t_edges = np.concatenate([[0], np.cumsum(per_rep)])
                row, a = [], 0
                for r in reps.tolist():
                    if r == 0:
                        row.append(None)
                        continue
                    row.append(Events(times[t_edges[a]: t_edges[a + r]], per_rep[a: a + r]))
                    a += r
                w.write_row(s, row)
    return dst


def grow(src: str, dst: str, factor: int = GROW_FACTOR) -> str:
    """Write ``src`` again with every recorded repeat repeated ``factor`` times.

    S, N, the tables and the stimuli are unchanged; ``/repeats`` and the
    response heap grow ``factor`` times.
    """
    from strfh5.contents import FileContents
    from strfh5.records import Events

    with FileContents(src) as c:
        note = f"{os.path.basename(src)} with every repeat repeated {factor} times"
        with _writer_like(c, dst, c.info.encoding, note) as w:
            for s in range(c.S):
                _copy_stimulus(w, c, s)
                row = []
                for el in c.row(s):
                    if el is None:
                        row.append(None)
                    elif isinstance(el, Events):
                        row.append(Events(np.tile(el.times, factor), np.tile(el.counts, factor)))
                    else:
                        row.append(np.tile(el, (factor, 1)))
                w.write_row(s, row)
    return dst


def continuous_source(path: str, label: str, target_bytes: int, n_neurons: int = 64, n_bins: int = 1000,
                      seed: int = 0) -> str:
    """A binned file of continuous float32 signals of about ``target_bytes`` (fast to write).

    Neuron ids ``<label>-n<k>`` and stimulus ids ``<label>-s<k>`` are unique
    to ``label``, so two sources with different labels concatenate without
    duplicate-id errors.
    """
    from strfh5 import StreamWriter

    row_bytes = n_neurons * n_bins * 4
    S = max(2, int(math.ceil(target_bytes / row_bytes)))
    rng = np.random.default_rng([seed, sum(map(ord, label))])
    w = StreamWriter(
        path, encoding="binned", response_kind="continuous", dt_ms=10.0, stim_kind="spectrogram",
        stim_dims=(1, 4), neuron_ids=[f"{label}-n{k:04d}" for k in range(n_neurons)],
        nrn_meta=[{"area": label} for _ in range(n_neurons)],
        file_meta={"title": f"strfh5 benchmark concatenation source {label}", "license": "CC0-1.0"},
        overwrite=True,
    )
    stim = np.zeros((1, 4, n_bins), np.float32)
    with w:
        for s in range(S):
            w.add_stimulus(stim, id=f"{label}-s{s:05d}", meta={"name": f"{label}-s{s:05d}"})
            data = rng.standard_normal((n_neurons, 1, n_bins), dtype=np.float32)
            w.write_row(s, list(data))
    return path


def concat_pair(data_dir: str, size_label: str, target_bytes: int) -> tuple[list[str], float | None]:
    """Two continuous sources of ``target_bytes`` each in ``data_dir/concat-<size_label>/``."""
    folder = os.path.join(data_dir, f"concat-{size_label}")
    paths, spent = [], None
    n_bins = 1000 if target_bytes < 200e6 else 2000
    n_neurons = 64 if target_bytes < 200e6 else 128
    for label in ("A", "B"):
        parts = dict(kind="continuous", label=label, bytes=int(target_bytes), N=n_neurons, T=n_bins)
        p = cache_path(folder, f"src{label}", parts)
        p, dt = _ensure(p, lambda q, label=label: continuous_source(q, label, target_bytes, n_neurons, n_bins), parts)
        paths.append(p)
        if dt is not None:
            spent = (spent or 0.0) + dt
    return paths, spent


def large(data_dir: str, target_gb: float = 20.0, base: Scale | None = None) -> tuple[str, float | None]:
    """``aa2`` (events) tiled along the stimulus axis to at least ``target_gb`` GB on disk.

    Stimulus ``s`` of the result is stimulus ``s mod S`` of the base, with id
    ``<id>#<copy>``; neurons are those of the base.  Generated once (hours of
    simulation are avoided by copying rows, minutes of I/O remain).
    """
    from strfh5.contents import FileContents

    base = base or SCALES["aa2"]
    src, _ = simulated(data_dir, base, base.encoding)
    per_copy = os.path.getsize(src)
    copies = max(1, int(math.ceil(target_gb * 1e9 / per_copy)))
    parts = dict(base=base.name, params=base.params, copies=copies)
    path = cache_path(data_dir, f"large-{base.name}x{copies}", parts)

    def make(p):
        with FileContents(src) as c:
            note = f"{os.path.basename(src)} tiled {copies} times along the stimulus axis"
            with _writer_like(c, p, c.info.encoding, note) as w:
                for k in range(copies):
                    for s in range(c.S):
                        i = w.add_stimulus(c.stim(s), id=f"{c.stim_ids[s]}#{k}", meta=c.stim_meta[s],
                                           n_bins=int(c.n_bins[s]))
                        w.write_row(i, c.row(s))
        return p

    return _ensure(path, make, parts)


def s_grown(data_dir: str, scale: Scale, copies: int) -> tuple[str, float | None]:
    """``scale``'s native file with its stimuli tiled ``copies`` times along the stimulus axis (S grows).

    Copy 0 holds the responses; later copies repeat the stimuli, their ids
    (``<id>#<copy>``) and metadata, with no responses recorded, so the file
    grows in everything a lazy open reads (ids, metadata, ``n_bins``,
    ``/repeats``, stimulus links) without gigabytes of spike times.
    """
    from strfh5.contents import FileContents

    src, _ = simulated(data_dir, scale, scale.encoding)
    parts = dict(base=scale.name, params=scale.params, copies=int(copies), kind="s-grown")
    path = cache_path(data_dir, f"{scale.name}-S{copies}x", parts)

    def make(p):
        with FileContents(src) as c:
            note = f"{os.path.basename(src)} stimuli tiled {copies} times (responses in copy 0 only)"
            empty = [None] * c.N
            with _writer_like(c, p, c.info.encoding, note) as w:
                for k in range(copies):
                    for s in range(c.S):
                        i = w.add_stimulus(c.stim(s), id=f"{c.stim_ids[s]}#{k}", meta=c.stim_meta[s],
                                           n_bins=None if c.info.stim_kind != "waveform" else int(c.n_bins[s]))
                        w.write_row(i, c.row(s) if k == 0 else empty)
        return p

    return _ensure(path, make, parts)
