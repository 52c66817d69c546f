"""A local HTTP server with ``Range`` support that counts requests and bytes sent.

Used by the remote-reading benchmark figure and by ``tests/test_remote.py``:
it serves one folder on ``127.0.0.1`` (a free port) from a background thread,
answers ``HEAD`` and ``GET`` with single ``bytes=a-b`` ranges (206), and
records each request's path, range and body size so a caller can measure what
opening a file or reading one item costs over the network.
"""

from __future__ import annotations

import os
import re
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from functools import partial

__all__ = ["RangeServer"]

_RANGE = re.compile(r"bytes=(\d*)-(\d*)$")


class _Handler(SimpleHTTPRequestHandler):
    """Static files with single byte ranges; every request is logged on the server object."""

    def log_message(self, *args):  # quiet
        pass

    def _record(self, n_bytes: int, rng):
        with self.server.lock:
            self.server.log.append((self.command, self.path, rng, n_bytes))

    def do_HEAD(self):
        path = self.translate_path(self.path)
        if not os.path.isfile(path):
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(os.path.getsize(path)))
        if self.server.ranges:  # a server without range support usually says nothing
            self.send_header("Accept-Ranges", "bytes")
        self.end_headers()
        self._record(0, None)

    def do_GET(self):
        path = self.translate_path(self.path)
        if not os.path.isfile(path):
            self.send_error(404)
            return
        size = os.path.getsize(path)
        m = _RANGE.match(self.headers.get("Range", "")) if self.server.ranges else None
        if m and (m.group(1) or m.group(2)):
            if m.group(1):
                start = int(m.group(1))
                end = min(int(m.group(2)) if m.group(2) else size - 1, size - 1)
            else:  # suffix range: the last n bytes
                start, end = max(0, size - int(m.group(2))), size - 1
            if start >= size or end < start:
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{size}")
                self.end_headers()
                self._record(0, (start, end))
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        else:
            start, end = 0, size - 1
            self.send_response(200)
        n = end - start + 1
        self.send_header("Content-Length", str(n))
        if self.server.ranges:
            self.send_header("Accept-Ranges", "bytes")
        self.end_headers()
        with open(path, "rb") as fh:
            fh.seek(start)
            self.wfile.write(fh.read(n))
        self._record(n, (start, end))


class RangeServer:
    """Serve ``folder`` over HTTP on 127.0.0.1 while the ``with`` block runs.

    Parameters
    ----------
    folder : path-like
    ranges : bool
        Honour ``Range`` headers (False: always send the whole file, like a
        server without range support).

    Attributes
    ----------
    log : list of (method, path, (start, end) or None, bytes sent)
    """

    def __init__(self, folder, ranges: bool = True):
        handler = partial(_Handler, directory=os.fspath(folder))
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.httpd.lock = threading.Lock()
        self.httpd.log = []
        self.httpd.ranges = ranges
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def log(self) -> list:
        return self.httpd.log

    def url(self, name: str) -> str:
        """The URL of file ``name`` of the served folder."""
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/{name}"

    def reset(self) -> None:
        """Forget the requests recorded so far."""
        with self.httpd.lock:
            self.httpd.log.clear()

    def totals(self) -> tuple[int, int]:
        """``(requests, bytes sent)`` since the last :meth:`reset`."""
        with self.httpd.lock:
            return len(self.httpd.log), sum(r[3] for r in self.httpd.log)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)
