"""Early write-back of a file being written, so that the final ``fsync`` before its rename waits for little.

A :class:`BackgroundSync` owns a read-only descriptor of the temporary
output; :meth:`BackgroundSync.poke` starts an ``fdatasync`` of it in a
background thread when enough new data have been written since the last one
started (and none is running). The final ``fsync`` still runs, in the
writer's thread, before the rename (SPEC §10): this only moves most of the
write-back earlier, while the writer goes on computing.
"""

from __future__ import annotations

import os
import threading

__all__ = ["BackgroundSync"]

_DATASYNC = getattr(os, "fdatasync", os.fsync)  # macOS and Windows have no fdatasync
_NEVER = 1 << 62


class BackgroundSync:
    """``fdatasync`` of ``path`` in a background thread after every ``every`` bytes reported by :meth:`poke`."""

    def __init__(self, path: str, every: int = 32 << 20):
        self.every = int(every)
        self._pending = 0
        self._thread: threading.Thread | None = None
        try:
            self._fd: int | None = os.open(path, os.O_RDONLY)
        except OSError:
            self._fd = None

    def poke(self, nbytes: int) -> None:
        """``nbytes`` more were written; start a background sync when enough have been since the last."""
        if self._fd is None:
            return
        self._pending += int(nbytes)
        if self._pending < self.every or (self._thread is not None and self._thread.is_alive()):
            return
        self._pending = 0
        self._thread = threading.Thread(target=self._sync, name="strfh5-fdatasync", daemon=True)
        self._thread.start()

    def _sync(self) -> None:
        try:
            _DATASYNC(self._fd)
        except OSError:  # e.g. a platform that syncs only writable descriptors: the final fsync does it all
            self.every = _NEVER

    def close(self) -> None:
        """Wait for a running sync and release the descriptor."""
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
