"""Run the benchmark figures and turn them into ratios against their baselines.

:func:`run` prepares (or reuses) the cached files, runs every figure in its
own process (:func:`benchmarks.isolate.run_isolated`), and returns a JSON-able
document whose ``rows`` are the table lines: the measured value, the baseline
it is compared with, their ratio, the goal and PASS / MISS (``info`` where a
figure has no goal, ``ERROR`` where a measurement failed).
"""

from __future__ import annotations

import datetime as _dt
import os
import platform
import statistics
import sys
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from . import GENERATOR_VERSION
from .isolate import run_isolated
from .suite_io import EAGER_GOALS, EPOCH_GOALS, ns1_rows, safety_rows, scale_rows

__all__ = ["Options", "run", "format_table"]


@dataclass
class Options:
    """What to run (the command-line options of ``python -m benchmarks``)."""

    scales: tuple = ("aa1", "aa2", "nat4-a1")
    quick: bool = False
    large: bool = False
    large_gb: float = 20.0
    concat_large: bool | None = None  # None: in full mode, not in quick mode
    data_dir: str = os.path.join("bench_output", "data")
    isolation: str = "fork"
    quality_ref_neurons: int | None = 100  # loop reference on this many neurons, extrapolated
    k: int | None = None  # repeats of timed figures (default 3; 1 in quick mode)
    remote: bool = False  # reading over HTTP: bytes and requests (local Range server)
    remote_mb: tuple = (10.0, 100.0)
    verbose: bool = True
    baseline_python: str | None = None  # interpreter of a baseline checkout (convert ns1 figure)
    baseline_cwd: str | None = None
    sections: tuple = ("scales", "quality", "concat", "convert", "spectrograms")
    extra: dict = field(default_factory=dict)

    @property
    def reps(self) -> int:
        return self.k if self.k else (1 if self.quick else 3)


class _Log:
    def __init__(self, verbose: bool):
        self.t0 = time.perf_counter()
        self.verbose = verbose

    def __call__(self, msg: str) -> None:
        if self.verbose:
            print(f"[{time.perf_counter() - self.t0:7.1f} s] {msg}", file=sys.stderr, flush=True)


def _mb(nbytes: float) -> float:
    return nbytes / 1e6


def _fmt_value(v, unit: str) -> str:
    if v is None:
        return "-"
    if unit == "s":
        return f"{v * 1000:.1f} ms" if v < 1 else f"{v:.2f} s"
    if unit == "MB":
        return f"{v:.3f} MB" if v < 1 else f"{v:.1f} MB"
    if unit == "x":
        return f"{v:.2f}x"
    return f"{v:.3g} {unit}".strip()


def _row(rows: list, section: str, figure: str, value, unit: str, *, baseline: str = "", base_value=None,
         ratio=None, goal: str = "", ok: bool | None = None, rss=None, base_rss=None, note: str = "",
         error: str | None = None) -> None:
    status = "ERROR" if error else ("info" if ok is None else ("PASS" if ok else "MISS"))
    rows.append(dict(section=section, figure=figure, value=value, unit=unit, baseline=baseline,
                     baseline_value=base_value, ratio=ratio, goal=goal, status=status, peak_rss_mb=rss,
                     baseline_peak_rss_mb=base_rss, note=note, error=error))


def _err(*results) -> str | None:
    for r in results:
        if isinstance(r, dict) and r.get("error"):
            return r["error"]
    return None


def _med(r):
    return None if not isinstance(r, dict) or r.get("error") else r.get("median_s")


def _rss(r):
    if not isinstance(r, dict) or r.get("error"):
        return None
    p = r.get("peak_rss_mb")
    c = r.get("children_peak_rss_mb") or 0.0
    return p if not c else max(p, c)


def _ratio(a, b):
    return None if a is None or b is None or b == 0 else a / b


def _epoch_rounds(call, path: str, k: int, budget: float) -> tuple[dict, dict, dict, dict]:
    """Epochs in rounds (in-memory, lazy workers 0, lazy workers 2, lazy workers 0 with the row cache), each in its own process.

    Interleaving the three modes round by round exposes them to the same load
    of a shared machine, so their ratios are steadier than those of three
    back-to-back series.  Stops after the round in which ``budget`` seconds of
    epochs were spent.
    """
    modes = ("memory", "lazy0", "lazy2", "lazy0c")
    acc: dict[str, list] = {m: [] for m in modes}
    spent = 0.0
    for _ in range(max(1, k)):
        for m in modes:
            r = call("epoch", path=path, mode=m, k=1, budget_s=budget)
            acc[m].append(r)
            if not r.get("error"):
                spent += r["median_s"]
        if spent >= budget:
            break
    out = []
    for m in modes:
        rs = acc[m]
        bad = [r for r in rs if r.get("error")]
        if bad:
            out.append(bad[0])
            continue
        times = [r["times_s"][0] for r in rs]
        merged = dict(rs[0])
        merged.update(times_s=times, median_s=statistics.median(times), k=len(times),
                      peak_rss_mb=max(r["peak_rss_mb"] for r in rs),
                      children_peak_rss_mb=max(r["children_peak_rss_mb"] for r in rs))
        out.append(merged)
    return out[0], out[1], out[2], out[3]


def _preimport() -> None:
    """Import what the figures use once, before forking, so no figure times an import.

    Holds no data and opens no file: a forked child inherits only code.
    """
    import h5py  # noqa: F401
    import numpy  # noqa: F401
    import torch  # noqa: F401
    import torch.utils.data  # noqa: F401

    import strfh5  # noqa: F401
    import strfh5.binning  # noqa: F401
    import strfh5.collate  # noqa: F401
    import strfh5.concatenation  # noqa: F401
    import strfh5.dataset  # noqa: F401
    import strfh5.metrics  # noqa: F401
    import strfh5.quality  # noqa: F401
    import strfh5.reader  # noqa: F401
    import strfh5.simulate  # noqa: F401
    import strfh5.concatenation  # noqa: F401
    import strfh5.spectrogram  # noqa: F401

    from . import baselines, figures, scales  # noqa: F401

    for name in ("load", "neural_collate", "concat", "write_simulated"):
        getattr(strfh5, name)


def run(opts: Options) -> dict:
    """Run the suite; returns the results document (see the module docstring)."""
    from . import scales as SC

    log = _Log(opts.verbose)
    t_start = time.perf_counter()
    _preimport()
    data_dir = os.path.abspath(opts.data_dir)
    os.makedirs(data_dir, exist_ok=True)
    iso = opts.isolation
    k = opts.reps
    quick = opts.quick
    budget = 8.0 if quick else 20.0
    table = SC.QUICK_SCALES if quick else SC.SCALES
    unknown = [s for s in opts.scales if s not in table]
    if unknown:
        raise ValueError(f"unknown scale(s) {unknown}; known: {sorted(table)} (and 'large' with --large)")
    rows: list[dict] = []
    raw: dict[str, Any] = {}
    generation: list[dict] = []

    def call(name, **kw):
        r = run_isolated(name, kw, iso)
        if r.get("error"):
            log(f"  {name} failed: {r['error']}")
        return r

    def prepare(name, label, **kw):
        log(f"prepare {label}")
        r = call(name, **kw)
        if r.get("error"):
            raise RuntimeError(f"preparing {label} failed: {r['error']}\n{r.get('traceback', '')}")
        generation.append(dict(what=label, seconds=r.get("generation_s"), cached=r.get("generation_s") is None))
        return r

    for name in opts.scales if "scales" in opts.sections else ():
        sc = table[name]
        other = SC.other_encoding(sc.encoding)
        native = prepare("prepare_simulated", f"{sc.name} {sc.encoding}", data_dir=data_dir, scale=name,
                         quick=quick)
        second = prepare("prepare_simulated", f"{sc.name} {other}", data_dir=data_dir, scale=name, quick=quick,
                         encoding=other)
        grown = prepare("prepare_grown", f"{sc.name} {sc.encoding} x{SC.GROW_FACTOR}", data_dir=data_dir,
                        scale=name, quick=quick, encoding=sc.encoding)
        base = prepare("prepare_baselines", f"{sc.name} baselines (a) torch.save, (b) naive HDF5",
                       src=native["path"])
        files = {sc.encoding: native, other: second}
        sec = f"{sc.name}"
        res: dict[str, Any] = {"files": {e: f["path"] for e, f in files.items()}, "shape": sc.shape}
        raw[sc.name] = res

        log(f"{sc.name}: baselines (a) torch.load, (b) naive HDF5 load")
        res["torch_load"] = ta = call("torch_load", path=base["deepstrf"], k=k, budget_s=budget)
        res["naive_load"] = tb = call("naive_load", path=base["naive"], k=k, budget_s=budget)
        size_a = os.path.getsize(base["deepstrf"])
        size_b = os.path.getsize(base["naive"])
        for enc in (sc.encoding, other):
            path = files[enc]["path"]
            tag = f"{sec} {enc}" + (" (native)" if enc == sc.encoding else "")
            r: dict[str, Any] = {}
            res[enc] = r
            size = os.path.getsize(path)
            _row(rows, tag, "file size", _mb(size), "MB", baseline="(a) torch.save", base_value=_mb(size_a),
                 ratio=size / size_a, goal="<= 0.3x", ok=size / size_a <= 0.3)
            _row(rows, tag, "file size", _mb(size), "MB", baseline="(b) naive HDF5", base_value=_mb(size_b),
                 ratio=size / size_b)
            log(f"{tag}: eager load, raw rows (c)")
            r["eager"] = ea = call("eager_load", path=path, k=k, budget_s=budget)
            r["raw_rows"] = tc = call("raw_rows", path=path, k=k, budget_s=budget)
            e, a, b, c = _med(ea), _med(ta), _med(tb), _med(tc)
            _row(rows, tag, "eager load", e, "s", baseline="(a) torch.load", base_value=a, ratio=_ratio(e, a),
                 goal="<= 0.1x", ok=None if _ratio(e, a) is None else _ratio(e, a) <= 0.1, rss=_rss(ea),
                 base_rss=_rss(ta), error=_err(ea, ta))
            _row(rows, tag, "eager load", e, "s", baseline="(b) naive HDF5 load", base_value=b, ratio=_ratio(e, b),
                 rss=_rss(ea), base_rss=_rss(tb), error=_err(ea, tb))
            eg = EAGER_GOALS.get((name, enc), 2.0)
            _row(rows, tag, "eager load", e, "s", baseline="(c) raw h5py rows", base_value=c, ratio=_ratio(e, c),
                 goal=f"<= {eg:g}x", ok=None if _ratio(e, c) is None else _ratio(e, c) <= eg, rss=_rss(ea),
                 base_rss=_rss(tc), error=_err(ea, tc))

            log(f"{tag}: lazy open")
            r["lazy_open"] = lo = call("lazy_open", path=path, k=max(k, 5) if not quick else 3)
            o1 = _med(lo)
            _row(rows, tag, "lazy open (1x)", o1, "s", goal="<= 50 ms", ok=None if o1 is None else o1 <= 0.05,
                 rss=_rss(lo), error=_err(lo))
            if enc == sc.encoding:
                r["lazy_open_8x"] = lo8 = call("lazy_open", path=grown["path"], k=max(k, 5) if not quick else 3)
                o8 = _med(lo8)
                big = os.path.getsize(grown["path"])
                _row(rows, tag, f"lazy open ({big / size:.1f}x data)", o8, "s", baseline="lazy open (1x)",
                     base_value=o1, ratio=_ratio(o8, o1), goal="<= 1.5x; <= 50 ms",
                     ok=None if _ratio(o8, o1) is None else (_ratio(o8, o1) <= 1.5 and o8 <= 0.05),
                     rss=_rss(lo8), base_rss=_rss(lo), error=_err(lo8, lo),
                     note=f"{_mb(big):.0f} MB vs {_mb(size):.0f} MB")

            log(f"{tag}: DataLoader epochs (memory, lazy w0, lazy w2)")
            em, e0, e2, e0c = _epoch_rounds(call, path, k, budget)
            r["epoch_memory"], r["epoch_lazy0"], r["epoch_lazy2"], r["epoch_lazy0_row_cache"] = em, e0, e2, e0c
            m = _med(em)
            g0 = EPOCH_GOALS.get((name, enc), 0.5)
            for rr, w, goal, thr in ((e0, 0, f">= {g0:g}x", g0), (e2, 2, ">= 0.9x", 0.9)):
                t = _med(rr)
                q = _ratio(m, t)
                _row(rows, tag, f"epoch lazy, workers {w}", t, "s", baseline="in-memory epoch (workers 0)",
                     base_value=m, ratio=q, goal=goal + " speed", ok=None if q is None else q >= thr,
                     rss=_rss(rr), base_rss=_rss(em), error=_err(rr, em))
            t = _med(e0c)
            _row(rows, tag, "epoch lazy, workers 0, row cache", t, "s", baseline="in-memory epoch (workers 0)",
                 base_value=m, ratio=_ratio(m, t), goal="", ok=None, rss=_rss(e0c), base_rss=_rss(em),
                 error=_err(e0c, em), note="opt-in STRFH5_ROW_CACHE_MB=4096 (rows kept per process after the first epoch)")
            if enc == sc.encoding:
                r["issue18"] = scale_rows(call, _row, rows, name, tag, path, data_dir, quick, k, budget, log)
            log(f"{tag}: random access")
            r["random_access"] = ra = call("random_access", path=path, n=20 if quick else 200)
            if ra.get("error"):
                _row(rows, tag, "item latency lazy", None, "s", error=ra["error"])
            else:
                _row(rows, tag, "item latency lazy p50", ra["p50_s"], "s", rss=_rss(ra))
                _row(rows, tag, "item latency lazy p99", ra["p99_s"], "s", rss=_rss(ra))

    if "convert" in opts.sections and not quick:
        raw["convert"] = ns1_rows(call, _row, rows, opts.baseline_python, opts.baseline_cwd, k, log)
    if "safety" in opts.sections:
        files = {f"{table[n].name} {table[n].encoding}": prepare(
            "prepare_simulated", f"{table[n].name} {table[n].encoding}", data_dir=data_dir, scale=n, quick=quick)["path"]
            for n in opts.scales}
        raw["safety"] = safety_rows(call, _row, rows, files, opts.baseline_python, opts.baseline_cwd, quick, log)
    if "quality" in opts.sections:
        _quality_rows(call, prepare, rows, raw, data_dir, quick, k, budget, opts, log)
    if "concat" in opts.sections:
        _concat_rows(call, prepare, rows, raw, data_dir, quick, k, budget, opts, log)
    if "spectrograms" in opts.sections:
        _spectrogram_rows(call, prepare, rows, raw, data_dir, quick, k, budget, log)
    _large_rows(call, prepare, rows, raw, data_dir, quick, opts, log)
    if opts.remote:
        _remote_sections(call, prepare, rows, raw, data_dir, opts, log)
    return _document(opts, rows, raw, generation, time.perf_counter() - t_start, k, iso)


def _quality_rows(call, prepare, rows, raw, data_dir, quick, k, budget, opts, log) -> None:
    from . import scales as SC

    q = prepare("prepare_quality", "quality dataset (NAT4 validation scale)", data_dir=data_dir, quick=quick)
    log("quality: compute_neuron_quality, loop reference, peak memory")
    qt = call("quality_time", path=q["path"], k=k, budget_s=budget)
    qr = call("quality_reference", path=q["path"], n_neurons=None if quick else opts.quality_ref_neurons)
    qm = call("quality_memory", path=q["path"])
    qo = call("lazy_open", path=q["path"], k=max(k, 5) if not quick else 3)
    raw["quality_lazy_open"] = qo
    o = _med(qo)
    _row(rows, "quality", "lazy open, STRFs in nrn_meta", o, "s", goal="<= 50 ms",
         ok=None if o is None else o <= 0.05, rss=_rss(qo), error=_err(qo),
         note="neuron metadata with ground-truth STRFs (JSON)")
    raw["quality"] = dict(file=q["path"], time=qt, reference=qr, memory=qm,
                          shape=(SC.QUICK_QUALITY if quick else SC.QUALITY).shape)
    tq, tref = _med(qt), None if qr.get("error") else qr["extrapolated_s"]
    note = ""
    if not qr.get("error"):
        ag = qr["agreement"]
        note = (f"reference on {qr['neurons_measured']}/{qr['N']} neurons, x{qr['N'] / qr['neurons_measured']:.1f}; "
                f"max |diff| snr {ag['snr']['max_abs_diff']:.1e}, ccmax {ag['ccmax']['max_abs_diff']:.1e}")
    _row(rows, "quality", "compute_neuron_quality", tq, "s", baseline="loop reference", base_value=tref,
         ratio=_ratio(tq, tref), goal="<= 0.05x", ok=None if _ratio(tq, tref) is None else _ratio(tq, tref) <= 0.05,
         rss=_rss(qt), base_rss=_rss(qr), error=_err(qt, qr), note=note)
    if qm.get("error") or qm.get("extra_peak_mb") is None:
        _row(rows, "quality", "peak memory (lazy)", None, "MB", error=qm.get("error") or "peak RSS cannot be reset here")
    else:
        _row(rows, "quality", "peak memory above start (lazy)", qm["extra_peak_mb"] * 1.048576, "MB",
             baseline="one stimulus slab", base_value=qm["slab_mb"] * 1.048576,
             ratio=qm["extra_peak_mb"] / qm["slab_mb"], goal="<= 2x", ok=qm["extra_peak_mb"] / qm["slab_mb"] <= 2.0,
             rss=_rss(qm), note=f"second call in the process; first call {qm['cold']['extra_peak_mb'] * 1.048576:.1f} MB")



def _concat_rows(call, prepare, rows, raw, data_dir, quick, k, budget, opts, log) -> None:
    concat_large = opts.concat_large if opts.concat_large is not None else not quick
    sizes = [("1MB" if quick else "10MB", 1e6 if quick else 10e6)]
    if concat_large:
        sizes.append(("1GB", 1e9))
    ctimes = {}
    raw["concat"] = {}
    for label, nbytes in sizes:
        pr = prepare("prepare_concat", f"concat sources 2 x {label}", data_dir=data_dir, size_label=label,
                     target_bytes=int(nbytes))
        out = os.path.join(os.path.dirname(pr["paths"][0]), "concat-out.strf.h5")
        log(f"concat {label}: time, size, lazy iteration")
        ct = call("concat_time", paths=pr["paths"], out=out, k=max(k, 3) if not quick else 2)
        ci = call("concat_iteration", paths=pr["paths"], out=out, k=k if label != "1GB" else 1, budget_s=budget)
        raw["concat"][label] = dict(sources=pr["paths"], source_bytes=pr["bytes"], time=ct, iteration=ci)
        tag = f"concat 2 x {_mb(sum(pr['bytes']) / 2):.0f} MB"
        t = _med(ct)
        ctimes[label] = t
        _row(rows, tag, "on-disk concat time", t, "s", goal="< 0.2 s", ok=None if t is None else t < 0.2,
             rss=_rss(ct), error=_err(ct))
        if not ct.get("error"):
            _row(rows, tag, "on-disk concat size", _mb(ct["bytes"]), "MB", goal="< 1 MB", ok=ct["bytes"] < 1e6)
        if ci.get("error"):
            _row(rows, tag, "lazy epoch concat vs sources", None, "s", error=ci["error"])
        else:
            tc, ts = ci["concat"]["median_s"], ci["sources"]["median_s"]
            _row(rows, tag, "lazy epoch over concat", tc, "s", baseline="lazy epochs over the sources",
                 base_value=ts, ratio=ts / tc, goal=">= 0.8x speed", ok=ts / tc >= 0.8, rss=_rss(ci))
    if len(ctimes) == 2 and None not in ctimes.values():
        a, b = ctimes.values()
        _row(rows, "concat", "time flat in source size", b, "s", baseline="concat of the small sources", base_value=a,
             ratio=b / a, note="1 GB sources vs small sources")



def _spectrogram_rows(call, prepare, rows, raw, data_dir, quick, k, budget, log) -> None:
    """Lazy epoch with spectrograms recomputed at load (n_bands=34) against the stored ones."""
    sp = prepare("prepare_spectro", "spectrograms: AA1-like file keeping its waveforms", data_dir=data_dir,
                 quick=quick)
    log("spectrograms: lazy epoch, stored vs recomputed (n_bands=34)")
    st = call("spectro_epoch", path=sp["path"], n_bands=None, k=k, budget_s=budget)
    rc = call("spectro_epoch", path=sp["path"], n_bands=34, k=k, budget_s=budget)
    raw["spectrograms"] = dict(path=sp["path"], stored=st, recomputed=rc)
    a, b = _med(rc), _med(st)
    _row(rows, "spectrograms at load", "epoch lazy, recomputed (n_bands=34)", a, "s",
         baseline="epoch lazy, stored spectrograms (32 bands)", base_value=b, ratio=_ratio(a, b), rss=_rss(rc),
         base_rss=_rss(st), error=_err(rc, st),
         note="workers 0; every item recomputes its spectrogram from the kept 32 kHz waveform")


def _remote_sections(call, prepare, rows, raw, data_dir, opts, log) -> None:
    """Bytes and requests to open a file and read one item over HTTP (--remote)."""
    for mb in opts.remote_mb:
        rf = prepare("prepare_remote", f"remote {mb:g} MB file", data_dir=data_dir, target_mb=mb)
        log(f"remote {mb:g} MB: open and one item over HTTP")
        rt = call("remote_transfer", path=rf["path"])
        raw.setdefault("remote", {})[f"{mb:g}MB"] = rt
        _remote_rows(rows, rt)


def _large_rows(call, prepare, rows, raw, data_dir, quick, opts, log) -> None:
    if opts.large:
        lg = prepare("prepare_large", f"large (>= {opts.large_gb:g} GB)", data_dir=data_dir, target_gb=opts.large_gb,
                     quick=quick)
        log("large: lazy epoch, workers 0 and 2")
        for w in (0, 2):
            le = call("large_epoch", path=lg["path"], workers=w)
            raw.setdefault("large", {})[f"workers{w}"] = le
            rss = _rss(le)
            note = ""
            if not le.get("error"):
                note = f"epoch {le['seconds']:.0f} s, {le['items']} items"
                if w:
                    note += (f"; main process {le['peak_rss_mb']:.0f} MB, largest worker "
                             f"{le['children_peak_rss_mb']:.0f} MB")
            size = f"{lg['bytes'] / 1e9:.1f} GB" if lg["bytes"] >= 1e9 else f"{_mb(lg['bytes']):.1f} MB"
            _row(rows, f"large {size}", f"peak RSS lazy epoch, workers {w}", rss, "MB",
                 goal="< 2 GB" + (" per process" if w else ""), ok=None if rss is None else rss < 2048,
                 error=_err(le), note=note)



def _document(opts, rows, raw, generation, total, k, iso) -> dict:
    doc = dict(
        meta=dict(
            created=_dt.datetime.now().isoformat(timespec="seconds"),
            total_s=round(total, 1),
            generation_s=round(sum(g["seconds"] or 0.0 for g in generation), 1),
            options={k_: v for k_, v in asdict(opts).items() if k_ != "extra"},
            repeats=k,
            isolation=iso,
            python=sys.version.split()[0],
            platform=platform.platform(),
            cpus=os.cpu_count(),
            generator_version=GENERATOR_VERSION,
            versions=_versions(),
        ),
        generation=generation,
        rows=rows,
        raw=raw,
    )
    return doc


def _remote_rows(rows: list, rt: dict) -> None:
    """Table rows of one :func:`benchmarks.figures.remote_transfer` result."""
    if rt.get("error"):
        _row(rows, "remote", "open over HTTP", None, "MB", error=rt["error"])
        return
    size = rt["bytes"]
    tag = f"remote {_mb(size):.0f} MB"
    for r in rt["runs"]:
        kib = f"{r['block_size'] // 1024} KiB blocks"
        frac = r["open_bytes"] / size
        _row(rows, tag, f"open over HTTP, {kib}", _mb(r["open_bytes"]), "MB", baseline="file size",
             base_value=_mb(size), ratio=frac, goal="< 1 % of the file", ok=frac < 0.01,
             note=f"{r['open_requests']} requests")
        _row(rows, tag, f"one item over HTTP, {kib}", _mb(r["item_bytes"]), "MB",
             baseline="item's stored row + stimulus", base_value=_mb(rt["item_stored_bytes"]),
             ratio=_ratio(r["item_bytes"], rt["item_stored_bytes"]), note=f"{r['item_requests']} requests")


def _versions() -> dict:
    out = {}
    for mod in ("strfh5", "numpy", "torch", "h5py"):
        try:
            m = __import__(mod)
            out[mod] = getattr(m, "__version__", "?")
        except ImportError:  # pragma: no cover
            out[mod] = None
    try:
        import h5py

        out["hdf5"] = h5py.version.hdf5_version
    except ImportError:  # pragma: no cover
        pass
    return out


def format_table(doc: dict) -> str:
    """The rows of a results document as a fixed-width text table."""
    head = ("section", "figure", "value", "baseline", "base value", "ratio", "goal", "status", "peak RSS MB")
    lines = []
    for r in doc["rows"]:
        rss = "-" if r["peak_rss_mb"] is None else f"{r['peak_rss_mb']:.0f}"
        if r.get("baseline_peak_rss_mb") is not None:
            rss += f" / {r['baseline_peak_rss_mb']:.0f}"
        lines.append((
            r["section"], r["figure"], _fmt_value(r["value"], r["unit"]), r["baseline"] or "-",
            _fmt_value(r["baseline_value"], r["unit"]) if r["baseline"] else "-",
            "-" if r["ratio"] is None else f"{r['ratio']:.3g}x", r["goal"] or "-", r["status"], rss,
        ))
    widths = [max(len(h), *(len(x[i]) for x in lines)) if lines else len(h) for i, h in enumerate(head)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    out = [fmt.format(*head), fmt.format(*("-" * w for w in widths))]
    prev = None
    for x in lines:
        if prev is not None and x[0] != prev:
            out.append("")
        out.append(fmt.format(*x))
        prev = x[0]
    m = doc["meta"]
    misses = [f"{r['section']}: {r['figure']}" for r in doc["rows"] if r["status"] in ("MISS", "ERROR")]
    out.append("")
    out.append(f"total {m['total_s']:.0f} s (generation {m['generation_s']:.0f} s), {m['cpus']} CPUs, "
               f"median of up to {m['repeats']} runs, isolation: {m['isolation']}, {m['platform']}")
    out.append("ratios: value / baseline, except '>= ... speed' goals: baseline time / our time")
    out.append("peak RSS: of the measuring process (its DataLoader workers included); '/ x' = the baseline's")
    notes = [f"  {r['section']}, {r['figure']}: {r['note']}" for r in doc["rows"] if r.get("note")]
    if notes:
        out.append("notes:")
        out.extend(notes)
    out.append(f"goals missed or failed: {len(misses)}" + ("" if not misses else " (" + "; ".join(misses) + ")"))
    for r in doc["rows"]:
        if r["status"] == "ERROR":
            out.append(f"ERROR {r['section']} {r['figure']}: {r['error']}")
    return "\n".join(out)
