"""A strfh5 file held open once per process, safe to pickle and fork.

A lazy dataset is handed to DataLoader workers by pickling or forking; an
HDF5 handle survives neither.  :class:`FileHandle` pickles without its handle
and reopens the file (through :func:`~strfh5.h5io.open_file`, so with every
check) the first time a new process uses it.
"""

from __future__ import annotations

import os

import h5py

from .. import layout as L
from ..errors import CorruptDataError
from .heaps import check_attributes, release
from .index import RowIndex, open_index
from .opening import open_file
from .virtual_index import VirtualIndex, open_virtual_index

__all__ = ["FileHandle"]


class FileHandle:
    """A path and this process' open :class:`h5py.File` for it.

    Parameters
    ----------
    path : str or os.PathLike
        The strfh5 file.
    allow_external : bool
        Accept a concatenated file whose sources lie outside its folder.
    """

    def __init__(self, path, *, allow_external: bool = False, scan_heaps: bool = False):
        self.path = os.fspath(path)
        self.allow_external = allow_external
        self.scan_heaps = scan_heaps  # the first open of this process scans the heaps (see open_file)
        self._h5: h5py.File | None = None
        self._pid: int | None = None
        self._datasets: dict = {}
        self._index: RowIndex | None | bool = False  # False: not looked up yet in this process
        self._scanned: tuple | None = None  # (inode, size, mtime) of the file whose heaps were scanned
        self.checked_stims: set = set()  # stimuli whose links were checked in this process
        self.concatenated = False

    @property
    def file(self) -> h5py.File:
        """The open file of this process (opened, with its checks, on first use)."""
        if self._h5 is None or self._pid != os.getpid():
            # heaps scanned once per file version: a reopen of the same unchanged file (inode, size, mtime) skips it
            stamp = _stamp(self.path) if self.scan_heaps else None
            scan = self.scan_heaps and (stamp is None or stamp != self._scanned)
            self._h5 = open_file(self.path, allow_external=self.allow_external, scan_heaps=scan)
            if scan:
                self._scanned = stamp
            self._pid = os.getpid()
            self._datasets = {}
            self._index = False
            self.checked_stims = set()
            self.concatenated = bool(self._h5.attrs.get(L.ATTR_CONCATENATED, False))
        return self._h5

    @property
    def is_open(self) -> bool:
        """Whether this process holds the file open now (a read through :attr:`file` would not reopen it)."""
        return self._h5 is not None and self._pid == os.getpid()

    def index(self, encoding: str, concatenated: bool) -> RowIndex | VirtualIndex | None:
        """This process' checked response byte-range index (a concatenated file's: its sources'), or None."""
        f = self.file
        if self._index is False and f.driver == "fileobj":  # over HTTP: rows through HDF5 (the index reads by pread)
            self._index = None
        if self._index is False and concatenated:
            self._index = open_virtual_index(f, self.path, encoding, self.allow_external)
        if self._index is False:
            try:
                if isinstance(f.get(L.RESPONSE_INDEX, getlink=True), h5py.HardLink):
                    check_attributes(f[L.RESPONSE_INDEX], self.path)
                self._index = open_index(f, self.path, encoding, concatenated)
            except (KeyError, RuntimeError, ValueError) as e:  # an object HDF5 cannot decode: not a broken index
                raise CorruptDataError(f"{self.path}: /{L.RESPONSE_INDEX} cannot be opened ({e})") from None
        return self._index

    def dataset(self, name: str) -> h5py.Dataset:
        """The open dataset ``name`` (looked up once per process)."""
        f = self.file
        ds = self._datasets.get(name)
        if ds is None:
            ds = self._datasets[name] = f[name]
        return ds

    def close(self) -> None:
        """Close this process' handle; the next use reopens it."""
        if self._index not in (None, False) and self._pid == os.getpid():
            self._index.close()
        self._index = False
        if self._h5 is not None and self._pid == os.getpid():
            try:
                self._h5.close()
            except Exception:  # pragma: no cover - closing a dead handle
                pass
        release(self.path)  # sources opened to check a concatenated file's rows
        self._h5 = None
        self._pid = None
        self._datasets = {}

    def __getstate__(self):
        return {"path": self.path, "allow_external": self.allow_external}

    def __setstate__(self, state):
        self.__init__(state["path"], allow_external=state["allow_external"])


def _stamp(path: str) -> tuple | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_ino, st.st_size, st.st_mtime_ns
