"""Python file objects handed to HDF5, made safe against h5py's global-lock deadlock.

h5py calls a Python file object's methods while it holds its global lock
(``phil``), and freeing any h5py object takes the same lock.  A file object
that does its I/O on a service thread — fsspec's HTTP files wait for an
asyncio loop on another thread — deadlocks the process when Python's cyclic
garbage collector runs on that thread and frees an h5py object: the service
thread waits for the lock, the reading thread waits for the service thread
(h5py issues #2019 and #2021; the workaround they document is pausing the
collector).  :class:`GcPausedFile` pauses automatic collection for the
duration of each read and write it forwards, and nothing else; collection
resumes as soon as the last concurrent call returns.
"""

from __future__ import annotations

import contextlib
import gc
import threading

__all__ = ["GcPausedFile", "gc_paused"]

_lock = threading.Lock()
_depth = 0
_was_enabled = False


@contextlib.contextmanager
def gc_paused():
    """Automatic garbage collection off inside the block (re-entrant, across threads).

    The first block to enter records whether collection was enabled; the last
    one to leave restores that state, so nested and concurrent reads never turn
    collection back on under another read, nor on when the caller had it off.
    """
    global _depth, _was_enabled
    with _lock:
        if _depth == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _was_enabled:
                gc.enable()


class GcPausedFile:
    """Forwards every call to ``raw``; reads and writes run with garbage collection paused.

    Parameters
    ----------
    raw : file object
        A binary, seekable file object (what ``h5py.File`` accepts).
    """

    def __init__(self, raw):
        self.raw = raw

    def readinto(self, buf):
        with gc_paused():
            if hasattr(self.raw, "readinto"):
                return self.raw.readinto(buf)
            data = self.raw.read(len(memoryview(buf).cast("B")))
            memoryview(buf).cast("B")[: len(data)] = data
            return len(data)

    def read(self, size=-1):
        with gc_paused():
            return self.raw.read(size)

    def write(self, data):
        with gc_paused():
            return self.raw.write(data)

    def flush(self):
        with gc_paused():
            return self.raw.flush()

    def seek(self, offset, whence=0):
        return self.raw.seek(offset, whence)

    def tell(self):
        return self.raw.tell()

    def truncate(self, size=None):
        return self.raw.truncate(size)

    def close(self):
        return self.raw.close()

    def __getattr__(self, name):  # name, size, closed, mode, ...: the wrapped object's
        if name == "raw":  # not set yet (copying): no recursion through __getattr__
            raise AttributeError(name)
        return getattr(self.raw, name)

    def __repr__(self):
        return repr(self.raw)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
