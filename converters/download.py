"""Fetching public releases into a local cache (pooch).

:func:`fetch` downloads the files a converter declares (``SOURCE.files``,
:class:`~strfh5.converters.base.ReleaseFile`) with pooch, checks their hashes,
unpacks archives and returns the folder to pass to ``strfh5 convert SOURCE
--raw``::

    <cache>/<source id>/downloads/<file name>    downloaded files (archives)
    <cache>/<source id>/raw/                     the unpacked release

``<cache>`` is ``cache_dir`` if given, else ``$STRFH5_CACHE``, else the
platform's user cache folder (``pooch.os_cache("strfh5")``, e.g.
``~/.cache/strfh5`` on Linux).  A second call finds the files in the cache
(hash checked again when known) and does not download or unpack them again.

A release that publishes no hash is downloaded unchecked; :func:`fetch` warns
and prints the SHA-256 of what it got so the converter's ``known_hash`` can
be filled in.

Credentials
-----------
Files with ``credentials="crcns"`` need a free crcns.org account, read from
``CRCNS_USERNAME`` and ``CRCNS_PASSWORD`` (never stored or printed).  A missing
variable raises :class:`~strfh5.errors.CredentialsError` before anything is
downloaded.  The download follows CRCNS's current scheme: log in on the
crcns.org form (``$STRFH5_CRCNS_LOGIN_URL`` overrides
``https://crcns.org/login_form``), then fetch
``https://download.crcns.org/<dataset>/<path>`` with the session's cookies.
CRCNS answers a refused login with an HTML page, which is detected and
reported rather than saved as data.
"""

from __future__ import annotations

import json
import os
import shutil
import tarfile
import warnings
import zipfile
from pathlib import Path, PurePosixPath
from typing import Iterable, Sequence

from strfh5.errors import ConverterError, CredentialsError, DownloadError
from strfh5.optional import require
from . import get_converter
from .base import ReleaseFile, SourceInfo

__all__ = [
    "CACHE_ENV",
    "CREDENTIALS",
    "cache_root",
    "credentials",
    "fetch",
    "fetch_release",
    "fetch_file",
    "unpack",
    "CRCNSDownloader",
]

#: environment variable overriding the cache folder
CACHE_ENV = "STRFH5_CACHE"
#: credential set -> (environment variables, where to get an account)
CREDENTIALS = {
    "crcns": (("CRCNS_USERNAME", "CRCNS_PASSWORD"), "a free account at https://crcns.org/register"),
}
CRCNS_LOGIN_URL = "https://crcns.org/login_form"
CRCNS_LOGIN_ENV = "STRFH5_CRCNS_LOGIN_URL"
_MARKERS = ".strfh5-unpacked"


def _pooch():
    return require("pooch", extra="convert", purpose="downloading releases (strfh5 fetch)")


def _requests():
    return require("requests", extra="convert", purpose="downloading releases (strfh5 fetch)")


def cache_root(cache_dir=None) -> Path:
    """The cache folder: ``cache_dir``, else ``$STRFH5_CACHE``, else the platform cache."""
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env).expanduser()
    return Path(_pooch().os_cache("strfh5"))


def credentials(name: str, what: str = "") -> tuple[str, str]:
    """The ``(username, password)`` of credential set ``name`` from the environment.

    Raises
    ------
    CredentialsError
        When a variable is unset or empty, naming the variables to set.
    """
    try:
        names, how = CREDENTIALS[name]
    except KeyError:
        raise CredentialsError(f"unknown credential set {name!r}; known: {', '.join(CREDENTIALS)}") from None
    missing = [v for v in names if not os.environ.get(v)]
    if missing:
        raise CredentialsError(
            f"{what + ': ' if what else ''}downloading needs {name.upper()} credentials: set "
            f"{' and '.join(missing)} ({how}); nothing was downloaded"
        )
    return os.environ[names[0]], os.environ[names[1]]


# -------------------------------------------------------------- downloaders
class CRCNSDownloader:
    """pooch downloader for crcns.org files (login form, then a cookie session).

    Parameters
    ----------
    username, password : str
    progressbar : bool
        Show a tqdm progress bar.
    login_url : str, optional
        Defaults to ``$STRFH5_CRCNS_LOGIN_URL`` or ``https://crcns.org/login_form``.
    """

    def __init__(self, username: str, password: str, progressbar: bool = False, login_url: str | None = None,
                 chunk_size: int = 1 << 20, timeout: float = 120.0):
        self.username, self.password = username, password
        self.progressbar = progressbar
        self.login_url = login_url or os.environ.get(CRCNS_LOGIN_ENV) or CRCNS_LOGIN_URL
        self.chunk_size, self.timeout = chunk_size, timeout
        self._session = None

    def session(self):
        """A ``requests.Session`` logged in on crcns.org (created once)."""
        if self._session is None:
            requests = _requests()
            s = requests.Session()
            s.headers["User-Agent"] = "strfh5 fetch (python-requests)"
            try:
                r = s.post(
                    self.login_url,
                    data={
                        "__ac_name": self.username,
                        "__ac_password": self.password,
                        "form.submitted": "1",
                        "js_enabled": "0",
                        "submit": "Log in",
                    },
                    timeout=self.timeout,
                )
            except requests.RequestException as e:
                raise DownloadError(f"CRCNS login at {self.login_url} failed: {e}") from None
            if r.status_code in (401, 403):
                raise CredentialsError(
                    f"CRCNS refused the login at {self.login_url} (HTTP {r.status_code}): check "
                    "CRCNS_USERNAME / CRCNS_PASSWORD"
                )
            if r.status_code >= 400:
                raise DownloadError(f"CRCNS login at {self.login_url} failed: HTTP {r.status_code}")
            self._session = s
        return self._session

    def __call__(self, url, output_file, pooch=None, check_only=False):
        requests = _requests()
        s = self.session()
        try:
            r = s.get(url, stream=True, timeout=self.timeout)
        except requests.RequestException as e:
            raise DownloadError(f"{url}: download failed: {e}") from None
        with r:
            if r.status_code in (401, 403):
                raise CredentialsError(
                    f"{url}: CRCNS refused access (HTTP {r.status_code}): check CRCNS_USERNAME / CRCNS_PASSWORD "
                    "and that your account has accepted the dataset's terms"
                )
            if r.status_code == 404:
                raise DownloadError(f"{url}: not found on the CRCNS server (HTTP 404)")
            if r.status_code >= 400:
                raise DownloadError(f"{url}: download failed (HTTP {r.status_code})")
            chunks = r.iter_content(chunk_size=self.chunk_size)
            first = next(chunks, b"")
            head = first[:2048].lstrip().lower()
            if "text/html" in r.headers.get("Content-Type", "") or head.startswith((b"<!doctype html", b"<html")):
                raise CredentialsError(
                    f"{url}: CRCNS answered with an HTML page instead of the file (login refused or file "
                    "unavailable): check CRCNS_USERNAME / CRCNS_PASSWORD"
                )
            total = int(r.headers.get("Content-Length") or 0) or None
            bar = None
            if self.progressbar:
                from tqdm.auto import tqdm

                bar = tqdm(total=total, unit="B", unit_scale=True, desc=Path(url).name, leave=True)
            try:
                opened = not hasattr(output_file, "write")
                fh = open(output_file, "wb") if opened else output_file
                try:
                    for chunk in _chain(first, chunks):
                        if chunk:
                            fh.write(chunk)
                            if bar is not None:
                                bar.update(len(chunk))
                finally:
                    if opened:
                        fh.close()
            finally:
                if bar is not None:
                    bar.close()


def _chain(first: bytes, rest):
    if first:
        yield first
    yield from rest


def _downloader(rf: ReleaseFile, progress: bool, auth: dict):
    if rf.credentials == "crcns":
        if "crcns" not in auth:
            user, pw = credentials("crcns", rf.name)
            auth["crcns"] = CRCNSDownloader(user, pw, progressbar=progress)
        return auth["crcns"]
    if rf.credentials is not None:
        credentials(rf.credentials, rf.name)  # raises for unknown sets
    return _pooch().HTTPDownloader(progressbar=progress)


# ------------------------------------------------------------------ fetching
def fetch_file(rf: ReleaseFile, folder, progress: bool = True, _auth: dict | None = None) -> Path:
    """Download one release file into ``folder`` (cache hit when present and matching).

    Raises
    ------
    DownloadError
        On a network error or a hash mismatch (the bad download is deleted).
    CredentialsError
        When the file needs credentials that are not set.
    """
    pooch = _pooch()
    requests = _requests()
    folder = Path(folder)
    auth = {} if _auth is None else _auth
    target = folder / rf.name
    fresh = not target.exists()
    downloader = _downloader(rf, progress, auth)
    try:
        path = pooch.retrieve(
            rf.url, known_hash=rf.known_hash, fname=rf.name, path=folder, downloader=downloader,
            progressbar=progress,
        )
    except ValueError as e:
        if "hash" in str(e).lower():
            raise DownloadError(
                f"{rf.name} from {rf.url}: the downloaded file does not match the release's hash "
                f"{rf.known_hash} ({e}); the download was deleted — retry, or report a changed release"
            ) from None
        raise DownloadError(f"{rf.name} from {rf.url}: {e}") from None
    except requests.RequestException as e:
        raise DownloadError(f"{rf.name}: download from {rf.url} failed: {e}") from None
    if rf.known_hash is None and fresh:
        warnings.warn(
            f"{rf.name}: the release publishes no hash, so the download from {rf.url} was not checked; "
            f"its sha256 is {pooch.file_hash(path)} (set ReleaseFile.known_hash='sha256:...' to check it)",
            stacklevel=2,
        )
    return Path(path)


def _safe_member(name: str, strip: int, archive: Path) -> PurePosixPath | None:
    parts = [p for p in PurePosixPath(name.replace("\\", "/")).parts if p not in ("", ".")]
    if name.startswith("/") or ".." in parts:
        raise DownloadError(f"{archive}: refusing archive member {name!r} (absolute path or '..')")
    if len(parts) <= strip:
        return None
    return PurePosixPath(*parts[strip:])


def _archive_members(archive: Path, kind: str):
    """``(name, "dir" | "file" | "other", open)`` for each member of a zip or tar archive, in archive order."""
    if kind == "zip":
        with zipfile.ZipFile(archive) as zf:
            for info in zf.infolist():
                yield info.filename, "dir" if info.is_dir() else "file", (lambda i=info: zf.open(i))
        return
    with tarfile.open(archive, "r:*") as tf:
        for m in tf:
            what = "dir" if m.isdir() else "file" if m.isfile() else "other"
            yield m.name, what, (lambda m=m: tf.extractfile(m))


def unpack(archive, dest, kind: str, strip: int = 0) -> Path:
    """Extract ``archive`` (``kind`` ``"zip"`` or ``"tar"``) into ``dest``.

    Members are written under ``dest`` only (absolute paths, ``..`` and links
    are refused), with ``strip`` leading path components dropped.  A marker
    in ``dest/.strfh5-unpacked/`` records the archive's size and time so a
    second call with the same archive does nothing.
    """
    archive, dest = Path(archive), Path(dest)
    st = archive.stat()
    stamp = {"archive": archive.name, "size": st.st_size, "mtime_ns": st.st_mtime_ns, "strip": strip}
    marker = dest / _MARKERS / (archive.name + ".json")
    if marker.is_file():
        try:
            if json.loads(marker.read_text()) == stamp:
                return dest
        except (OSError, ValueError):
            pass
    dest.mkdir(parents=True, exist_ok=True)
    try:
        if kind not in ("zip", "tar"):
            raise ConverterError(f"{archive}: unknown unpack kind {kind!r} (expected 'zip' or 'tar')")
        for name, what, open_member in _archive_members(archive, kind):
            rel = _safe_member(name, strip, archive)
            if rel is None:
                continue
            out = dest / rel
            if what == "dir":
                out.mkdir(parents=True, exist_ok=True)
                continue
            if what != "file":
                warnings.warn(f"{archive}: skipping member {name!r} (link or special file)", stacklevel=2)
                continue
            out.parent.mkdir(parents=True, exist_ok=True)
            with open_member() as src, open(out, "wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
    except (zipfile.BadZipFile, tarfile.TarError, EOFError) as e:
        raise DownloadError(f"{archive}: the archive cannot be unpacked ({e}); delete it and fetch again") from None
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(json.dumps(stamp))
    return dest


def fetch_release(info: SourceInfo, cache_dir=None, progress: bool = True,
                  files: Iterable[str] | None = None) -> Path:
    """Fetch the files of ``info`` and return the unpacked release folder.

    Parameters
    ----------
    info : SourceInfo
    cache_dir : path-like, optional
        Cache folder (see :func:`cache_root`).
    progress : bool
        Show progress bars.
    files : iterable of str, optional
        Names of the files to fetch; default: every non-optional file.

    Returns
    -------
    pathlib.Path
        ``<cache>/<source id>/raw``: pass it to ``strfh5 convert --raw``.
    """
    wanted = _select(info, files)
    for rf in wanted:  # every credential before any download
        if rf.credentials is not None:
            credentials(rf.credentials, f"{info.id} file {rf.name}")
    root = cache_root(cache_dir) / info.id
    downloads, raw = root / "downloads", root / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    auth: dict = {}
    for rf in wanted:
        if rf.unpack:
            path = fetch_file(rf, downloads, progress, auth)
            unpack(path, raw, rf.unpack, rf.strip)
        else:
            fetch_file(rf, raw, progress, auth)
    return raw


def _select(info: SourceInfo, files: Iterable[str] | None) -> Sequence[ReleaseFile]:
    if not info.files:
        raise ConverterError(f"{info.id}: the release declares no downloadable files (see {info.homepage or info.doi})")
    if files is None:
        return [rf for rf in info.files if not rf.optional]
    by_name = {rf.name: rf for rf in info.files}
    out = []
    for name in files:
        if name not in by_name:
            raise ConverterError(f"{info.id}: no release file named {name!r}; files: {', '.join(by_name)}")
        out.append(by_name[name])
    return out


def fetch(source_id: str, cache_dir=None, progress: bool = True, files: Iterable[str] | None = None) -> Path:
    """Download (or find in the cache) the release of ``source_id``; return its raw folder.

    Parameters
    ----------
    source_id : str
        A key of :data:`strfh5.converters.SOURCES` (``"crcns-aa1"``, ...).
    cache_dir : path-like, optional
        Overrides ``$STRFH5_CACHE`` and the platform cache folder.
    progress : bool
        Show tqdm progress bars.
    files : iterable of str, optional
        Release file names to fetch (default: all non-optional ones).

    Returns
    -------
    pathlib.Path
        The folder holding the unpacked release (``convert``'s ``raw_dir``).

    Raises
    ------
    CredentialsError
        Credentials the release needs are not set (raised before any download).
    DownloadError
        Network failure, hash mismatch, or a damaged archive.

    Examples
    --------
    >>> raw = fetch("crcns-aa1")                                     # doctest: +SKIP
    >>> strfh5.converters.convert("crcns-aa1", raw, "aa1.strf.h5")    # doctest: +SKIP
    """
    return fetch_release(get_converter(source_id).SOURCE, cache_dir=cache_dir, progress=progress, files=files)
