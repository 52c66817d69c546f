"""Run one measurement in its own process and report its peak memory.

Every figure runs in a process of its own so that the memory one figure
allocates (and the allocator keeps) cannot inflate the peak of the next.  Two
ways to get that process:

Each figure runs with one torch intra-op thread (see :func:`_measure`).

* ``fork`` (default): the suite process, which has already imported numpy,
  torch, h5py and strfh5 but holds no data and no open HDF5 file, forks a
  child per figure.  A child starts in milliseconds instead of the seconds an
  interpreter needs to import torch on a busy 2-core machine.
* ``spawn``: a fresh interpreter per figure (``python -m benchmarks.isolate``),
  slower, for platforms without ``fork`` or to rule out any inheritance.

Peak memory is the process's ``VmHWM`` (peak resident set size, from
``/proc/self/status``; ``ru_maxrss`` where ``/proc`` is missing); the peak of
its own children (DataLoader workers) is reported separately from
``getrusage(RUSAGE_CHILDREN)``.  ``base_rss_mb`` is the resident size when the
measurement started: imported libraries, the same for every figure.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import traceback

__all__ = ["run_isolated", "status_mb", "peak_rss_mb", "reset_peak"]


def status_mb(field: str) -> float | None:
    """A ``/proc/self/status`` memory field (``VmHWM``, ``VmRSS``) in MB, or None."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        return None
    return None


def peak_rss_mb() -> float:
    """Peak resident set size of this process in MB."""
    v = status_mb("VmHWM")
    if v is not None:
        return v
    r = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return r / 1024.0 if sys.platform != "darwin" else r / 2**20


def reset_peak() -> bool:
    """Reset this process's peak RSS to its current RSS (Linux ``clear_refs``); True if it worked."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _children_peak_mb() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return r / 1024.0 if sys.platform != "darwin" else r / 2**20


def _measure(name: str, kwargs: dict) -> dict:
    import torch

    from .figures import FIGURES

    # One intra-op thread in every figure, as DataLoader workers do: OpenMP's
    # thread pool does not survive fork (a parallel region in a forked child of
    # a process that used it deadlocks), and on a 2-core machine a second torch
    # thread only contends with the DataLoader workers being measured.
    torch.set_num_threads(1)
    base = status_mb("VmRSS")
    try:
        out = FIGURES[name](**kwargs)
        out = dict(out or {})
    except Exception as e:  # reported as a failed figure, never hides the table
        out = {"error": f"{type(e).__name__}: {e}", "traceback": traceback.format_exc()}
    out["peak_rss_mb"] = round(peak_rss_mb(), 1)
    out["children_peak_rss_mb"] = round(_children_peak_mb(), 1)
    out["base_rss_mb"] = None if base is None else round(base, 1)
    return out


def _run_fork(name: str, kwargs: dict) -> dict:
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        code = 0
        try:
            os.close(r)
            payload = json.dumps(_measure(name, kwargs), default=float).encode()
            with os.fdopen(w, "wb") as f:
                f.write(payload)
        except BaseException:  # pragma: no cover - last resort in the child
            traceback.print_exc()
            code = 1
        finally:
            os._exit(code)
    os.close(w)
    with os.fdopen(r, "rb") as f:
        data = f.read()
    _, status = os.waitpid(pid, 0)
    if not data:
        return {"error": f"figure {name!r}: child process died (wait status {status})"}
    return json.loads(data.decode())


def _run_spawn(name: str, kwargs: dict) -> dict:
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.isolate", name, json.dumps(kwargs)],
        cwd=root, capture_output=True, text=True,
    )
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith("BENCH-RESULT "):
            return json.loads(line[len("BENCH-RESULT "):])
    return {"error": f"figure {name!r}: subprocess exited {proc.returncode}: {proc.stderr.strip()[-2000:]}"}


def run_isolated(name: str, kwargs: dict, mode: str = "fork") -> dict:
    """Run figure ``name`` of :data:`benchmarks.figures.FIGURES` with ``kwargs`` in its own process.

    Returns the figure's result dict plus ``peak_rss_mb``,
    ``children_peak_rss_mb`` and ``base_rss_mb``; a figure that raised returns
    ``{'error': ..., 'traceback': ...}`` instead of raising.
    """
    if mode == "fork" and hasattr(os, "fork"):
        return _run_fork(name, kwargs)
    if mode not in ("fork", "spawn"):
        raise ValueError(f"isolation mode must be 'fork' or 'spawn', got {mode!r}")
    return _run_spawn(name, kwargs)


if __name__ == "__main__":  # spawn mode entry point
    from .suite import _preimport

    _preimport()  # as the forking suite does: no figure times an import
    _name, _kw = sys.argv[1], json.loads(sys.argv[2])
    print("BENCH-RESULT " + json.dumps(_measure(_name, _kw), default=float), flush=True)
