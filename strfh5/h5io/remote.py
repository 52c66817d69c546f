"""Reading strfh5 files over HTTP(S) lazily, through range requests.

A URL given to :func:`strfh5.load`, :func:`strfh5.info` or
:func:`strfh5.validate` is opened here: fsspec's HTTP file system (the
optional ``[remote]`` dependencies fsspec and aiohttp) turns every read h5py
makes into a ``Range`` request for whole blocks of ``block_size`` bytes, kept
in an LRU block cache of ``max_blocks`` blocks, and h5py reads the file
through that Python file object.  Opening a file therefore transfers the
blocks that hold its superblock, tables and ``/repeats``; reading one item
transfers the blocks of its row and stimulus.

Safety policy (SPEC §9.3): a concatenated file is refused over HTTP — its
virtual sources are relative file paths that HDF5 would resolve on the local
disk, not beside the URL.  Download it with its sources, or serve a
materialized copy (``strfh5 materialize``).
"""

from __future__ import annotations

import os
from typing import Any

import h5py

from .. import layout as L
from ..errors import NotStrfH5FileError, RemoteAccessError
from ..optional import require, require_all
from .fileobjects import GcPausedFile

__all__ = ["is_url", "open_url", "open_remote", "remote_size", "file_size", "DEFAULT_BLOCK_SIZE",
           "DEFAULT_MAX_BLOCKS"]

#: bytes fetched per range request (a read inside a cached block costs nothing); 64 KiB measured
#: best on a 100 MB file (benchmarks, ``--remote``): larger blocks drag in the data around the
#: scattered HDF5 metadata that opening a file reads
DEFAULT_BLOCK_SIZE = 64 * 1024
#: blocks kept in the LRU cache of one open file (``DEFAULT_BLOCK_SIZE`` x this = memory bound, 64 MiB)
DEFAULT_MAX_BLOCKS = 1024

_SCHEMES = ("http://", "https://")
#: seconds to connect, and to wait for data on an open connection, before a remote read fails
CONNECT_TIMEOUT_S = 30.0
READ_TIMEOUT_S = 60.0


def is_url(path: Any) -> bool:
    """True when ``path`` is an ``http://`` or ``https://`` URL (a string, case-insensitive scheme)."""
    return isinstance(path, str) and path[:8].lower().startswith(_SCHEMES)


def _filesystem():
    purpose = "reading a strfh5 file over HTTP"
    require_all({"fsspec": "remote", "aiohttp": "remote"}, purpose=purpose)
    aiohttp = require("aiohttp", extra="remote", purpose=purpose)
    # bounded time: a connection or a read that stalls fails instead of blocking the reader forever
    # (``connect`` bounds getting a connection at all: pool wait, name resolution and the TCP connect)
    timeout = aiohttp.ClientTimeout(total=None, connect=CONNECT_TIMEOUT_S, sock_connect=CONNECT_TIMEOUT_S,
                                    sock_read=READ_TIMEOUT_S)
    return require("fsspec", extra="remote", purpose=purpose).filesystem("http", client_kwargs={"timeout": timeout})


def open_url(url: str, *, block_size: int | None = None, max_blocks: int | None = None):
    """A seekable read-only file object on ``url``, reading through range requests and a block cache.

    Parameters
    ----------
    url : str
        ``http(s)://`` address of the file.
    block_size : int, optional
        Bytes per range request (:data:`DEFAULT_BLOCK_SIZE` when None).
    max_blocks : int, optional
        Blocks kept in the LRU cache (:data:`DEFAULT_MAX_BLOCKS` when None).

    Raises
    ------
    FileNotFoundError
        The server answers 404.
    RemoteAccessError
        The server cannot be reached, does not report the file's size or does
        not honour range requests.
    MissingDependencyError
        fsspec or aiohttp is not installed.
    """
    from fsspec.implementations.http import HTTPFile

    fs = _filesystem()
    try:
        fobj = fs.open(url, mode="rb", block_size=int(block_size or DEFAULT_BLOCK_SIZE), cache_type="blockcache",
                       cache_options={"maxblocks": int(max_blocks or DEFAULT_MAX_BLOCKS)})
    except FileNotFoundError:
        raise FileNotFoundError(f"{url}: no such file on the server (HTTP 404)") from None
    except Exception as e:  # noqa: BLE001 - aiohttp/fsspec raise many kinds; all mean the same here
        raise RemoteAccessError(f"{url}: cannot be opened over HTTP ({type(e).__name__}: {e})") from None
    if not isinstance(fobj, HTTPFile):
        fobj.close()
        raise RemoteAccessError(
            f"{url}: the server does not report the file's size or does not accept range requests; "
            "strfh5 reads remote files by byte ranges only (download the file instead)"
        )
    try:
        head = fobj.read(8)
        fobj.seek(0)
        if fobj.size > 1:
            # one byte away from the start: a server that ignores Range fails here, not deep inside HDF5
            fobj._fetch_range(fobj.size - 1, fobj.size)
    except Exception as e:  # noqa: BLE001
        fobj.close()
        raise RemoteAccessError(
            f"{url}: the server does not honour range requests ({type(e).__name__}: {e}); strfh5 reads "
            "remote files by byte ranges only (download the file instead)"
        ) from None
    fobj.name = url  # messages of the h5io file-object path name the URL
    if head != b"\x89HDF\r\n\x1a\n":
        fobj.close()
        raise NotStrfH5FileError(f"{url}: not an HDF5 file (no HDF5 signature at byte 0)")
    return fobj


def open_remote(url: str, mode: str = "r", **kwargs) -> Any:
    """A read-only file object on ``url`` that h5py can open, after the remote safety checks.

    The object is handed to :func:`strfh5.h5io.open_file`'s file-object path,
    which checks the strfh5 markers, the version and that the file holds no
    virtual dataset or external link.  Here the file is refused when it is
    concatenated (its sources cannot be resolved safely over HTTP).

    Parameters
    ----------
    url : str
    mode : str
        Only ``"r"``: remote files are read-only.
    **kwargs
        ``block_size`` and ``max_blocks`` of :func:`open_url`.

    Raises
    ------
    RemoteAccessError
        A mode other than ``"r"``, an unreachable server, or a concatenated file.
    """
    if mode != "r":
        raise RemoteAccessError(f"{url}: remote files are read-only; mode {mode!r} is refused (use 'r')")
    # fsspec reads on its event-loop thread while h5py holds its global lock: collection paused there
    fobj = GcPausedFile(open_url(url, **kwargs))
    try:
        with h5py.File(fobj, "r") as f:
            concatenated = bool(f.attrs.get(L.ATTR_CONCATENATED, False))
    except OSError as e:
        fobj.close()
        raise NotStrfH5FileError(f"{url}: cannot be opened as HDF5 ({e})") from None
    if concatenated:
        fobj.close()
        raise RemoteAccessError(
            f"{url}: a concatenated strfh5 file cannot be read over HTTP — its sources are file paths "
            "resolved on the local disk, not beside the URL (SPEC §9.3). Download it together with its "
            "sources, or serve a self-contained copy made with `strfh5 materialize`."
        )
    fobj.seek(0)
    return fobj


def remote_size(url: str) -> int:
    """Size in bytes of the file at ``url`` (one HEAD request)."""
    fs = _filesystem()
    try:
        size = fs.size(url)
    except FileNotFoundError:
        raise FileNotFoundError(f"{url}: no such file on the server (HTTP 404)") from None
    except Exception as e:  # noqa: BLE001
        raise RemoteAccessError(f"{url}: cannot be reached ({type(e).__name__}: {e})") from None
    if size is None:
        raise RemoteAccessError(f"{url}: the server does not report the file's size")
    return int(size)


def file_size(path) -> int:
    """Size in bytes of a local file or of a remote one (``http(s)://``)."""
    return remote_size(path) if is_url(path) else os.path.getsize(path)
