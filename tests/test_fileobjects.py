"""File objects handed to HDF5 (strfh5.h5io.fileobjects): no deadlock with service-thread readers.

h5py holds its global lock while it calls a Python file object; freeing an h5py
object takes the same lock.  A file object that reads on another thread (fsspec
over HTTP) deadlocked when the collector ran there (h5py #2019): the cause of the
remote tests' 60 s read timeouts in CI.  Without the wrapper the script below
stops at its 20 s read timeout (checked by hand with ``h5py.File(f)``).
"""

from __future__ import annotations

import gc
import io
import subprocess
import sys
import textwrap
import threading

import pytest

import strfh5
from strfh5.h5io.fileobjects import GcPausedFile, gc_paused

SCRIPT = textwrap.dedent(
    """
    import io, sys
    from concurrent.futures import ThreadPoolExecutor
    import h5py, numpy as np
    from strfh5.h5io.opening import open_file

    other = h5py.File(sys.argv[2], "w")
    other["x"] = np.arange(3)

    class ServiceThreadFile:
        '''Reads on a worker thread, like fsspec; its first read makes the collector free an h5py object there.'''
        def __init__(self, data, victim):
            self.b, self.pool, self.victim = io.BytesIO(data), ThreadPoolExecutor(1), [victim]
        def _work(self, n):
            if self.victim:
                cycle = [self.victim.pop()]
                cycle.append(cycle)  # garbage that only the collector frees
                del cycle
                keep = [[] for _ in range(5000)]  # allocations: an automatic collection on this thread
            return self.b.read(n)
        def read(self, n=-1):
            return self.pool.submit(self._work, n).result(timeout=20)
        def seek(self, *a):
            return self.b.seek(*a)
        def tell(self):
            return self.b.tell()

    victim = other["x"]
    f = ServiceThreadFile(open(sys.argv[1], "rb").read(), victim)
    del victim
    h = open_file(f)
    print(sorted(h))
    h.close()  # closed before exit: HDF5 freeing a file-object file at interpreter exit can crash
    other.close()
    f.pool.shutdown()
    """
)


def test_service_thread_file_object_does_not_deadlock(tmp_path):
    path = tmp_path / "demo.strf.h5"
    strfh5.write_simulated(path, preset="demo", seed=3)
    (tmp_path / "run.py").write_text(SCRIPT)
    done = subprocess.run([sys.executable, str(tmp_path / "run.py"), str(path), str(tmp_path / "other.h5")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "'responses'" in done.stdout


def test_reads_and_writes_run_with_collection_paused_and_state_restored():
    seen = []

    class Probe(io.BytesIO):
        def readinto(self, b):
            seen.append(gc.isenabled())
            return super().readinto(b)

        def write(self, b):
            seen.append(gc.isenabled())
            return super().write(b)

    f = GcPausedFile(Probe(b"0123456789"))
    was = gc.isenabled()
    gc.enable()
    try:
        buf = bytearray(4)
        assert f.readinto(buf) == 4 and bytes(buf) == b"0123"
        f.seek(0)
        f.write(b"ab")
        assert seen == [False, False] and gc.isenabled()
        gc.disable()  # a caller that had collection off keeps it off
        f.readinto(bytearray(2))
        assert not gc.isenabled()
    finally:
        (gc.enable if was else gc.disable)()


def test_read_only_objects_without_readinto_are_read_through_read():
    class Plain:
        def __init__(self):
            self.b = io.BytesIO(b"abcdef")

        def read(self, n=-1):
            return self.b.read(n)

    f = GcPausedFile(Plain())
    buf = bytearray(4)
    assert f.readinto(buf) == 4 and buf == b"abcd"
    assert f.readinto(buf) == 2 and buf[:2] == b"ef"


def test_pauses_nest_across_threads():
    was = gc.isenabled()
    gc.enable()
    try:
        inner_entered, release = threading.Event(), threading.Event()

        def other():
            with gc_paused():
                inner_entered.set()
                release.wait(10)

        t = threading.Thread(target=other)
        with gc_paused():
            t.start()
            assert inner_entered.wait(10)
        assert not gc.isenabled()  # the other thread's read still runs: collection stays off
        release.set()
        t.join(10)
        assert gc.isenabled()
    finally:
        (gc.enable if was else gc.disable)()


def test_wrapper_forwards_names_and_repr():
    raw = io.BytesIO(b"x")
    raw.name = "remote://file"
    f = GcPausedFile(raw)
    assert f.name == "remote://file" and repr(f) == repr(raw) and f.getvalue() == b"x"
    with pytest.raises(AttributeError):
        f.no_such_attribute
