"""strfh5 fetch against a local HTTP server: hashes, cache hits, unpacking, CRCNS login, errors."""

from __future__ import annotations

import hashlib
import io
import tarfile
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import pytest

from strfh5.converters import download
from strfh5.converters.base import ReleaseFile, SourceInfo
from strfh5.errors import CredentialsError, DownloadError


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *a):  # quiet
        pass

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
        form = {k: v[0] for k, v in parse_qs(body).items()}
        self.server.logins.append(form)
        ok = form.get("__ac_name") == "alice" and form.get("__ac_password") == "s3cret"
        self.send_response(200)
        if ok:
            self.send_header("Set-Cookie", "__ac=token; Path=/")
        self.send_header("Content-Type", "text/html")
        self.end_headers()
        self.wfile.write(b"<html>welcome</html>")

    def do_GET(self):
        name = self.path.lstrip("/")
        self.server.gets.append(name)
        if name.startswith("crcns/") and "__ac=token" not in (self.headers.get("Cookie") or ""):
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.end_headers()
            self.wfile.write(b"<!DOCTYPE html><html><form>Please log in</form></html>")
            return
        data = self.server.files.get(name.split("/", 1)[-1])
        if data is None:
            self.send_response(404)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def server():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    srv.files, srv.gets, srv.logins = {}, [], []
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    srv.url = f"http://127.0.0.1:{srv.server_address[1]}"
    yield srv
    srv.shutdown()
    srv.server_close()


def _zip(members: dict) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for k, v in members.items():
            z.writestr(k, v)
    return buf.getvalue()


def _tgz(members: dict) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as t:
        for k, v in members.items():
            ti = tarfile.TarInfo(k)
            ti.size = len(v)
            t.addfile(ti, io.BytesIO(v))
    return buf.getvalue()


def _sha(b: bytes) -> str:
    return "sha256:" + hashlib.sha256(b).hexdigest()


def _source(files):
    return SourceInfo(id="demo-release", title="t", citation="c", doi="d", license="l", access="open", files=files)


def test_fetch_checks_hash_unpacks_and_hits_cache(server, tmp_path):
    z = _zip({"all_stims/a.wav": b"RIFF", "cells/c1/spike1": b"1.0 \n"})
    t = _tgz({"crcns/aa2/cell_regions.csv": b"cell,region\n", "crcns/aa2/all_cells/x/stim1": b"A.wav\n"})
    server.files = {"r.zip": z, "r.tgz": t, "notes.txt": b"hello"}
    src = _source((ReleaseFile("r.zip", f"{server.url}/r.zip", _sha(z), unpack="zip"),
                   ReleaseFile("r.tgz", f"{server.url}/r.tgz", _sha(t), unpack="tar", strip=2),
                   ReleaseFile("notes.txt", f"{server.url}/notes.txt", _sha(b"hello"))))
    raw = download.fetch_release(src, cache_dir=tmp_path, progress=False)
    assert raw == tmp_path / "demo-release" / "raw"
    assert (raw / "all_stims" / "a.wav").read_bytes() == b"RIFF"
    assert (raw / "cells" / "c1" / "spike1").read_bytes() == b"1.0 \n"
    assert (raw / "cell_regions.csv").read_bytes() == b"cell,region\n"  # crcns/aa2/ stripped
    assert (raw / "all_cells" / "x" / "stim1").exists()
    assert (raw / "notes.txt").read_bytes() == b"hello"
    assert sorted(server.gets) == ["notes.txt", "r.tgz", "r.zip"]
    (raw / "all_stims" / "a.wav").write_bytes(b"changed")  # a second call neither downloads nor unpacks
    again = download.fetch_release(src, cache_dir=tmp_path, progress=True)
    assert again == raw and len(server.gets) == 3
    assert (raw / "all_stims" / "a.wav").read_bytes() == b"changed"


def test_fetch_hash_mismatch_is_a_clear_error(server, tmp_path):
    server.files = {"r.zip": _zip({"a": b"1"})}
    src = _source((ReleaseFile("r.zip", f"{server.url}/r.zip", "sha256:" + "0" * 64, unpack="zip"),))
    with pytest.raises(DownloadError, match=r"r.zip from http://127.0.0.1:\d+/r.zip: the downloaded file does not "
                                            r"match the release's hash"):
        download.fetch_release(src, cache_dir=tmp_path, progress=False)
    assert not (tmp_path / "demo-release" / "downloads" / "r.zip").exists()


def test_fetch_unknown_hash_warns_with_the_sha256(server, tmp_path):
    data = b"payload"
    server.files = {"f.bin": data}
    src = _source((ReleaseFile("f.bin", f"{server.url}/f.bin", None),))
    with pytest.warns(UserWarning, match=hashlib.sha256(data).hexdigest()):
        download.fetch_release(src, cache_dir=tmp_path, progress=False)


def test_fetch_404_and_env_cache(server, tmp_path, monkeypatch):
    src = _source((ReleaseFile("nope.zip", f"{server.url}/nope.zip", None, unpack="zip"),))
    monkeypatch.setenv("STRFH5_CACHE", str(tmp_path / "envcache"))
    assert download.cache_root() == tmp_path / "envcache"
    with pytest.raises(DownloadError, match="nope.zip"):
        download.fetch_release(src, progress=False)


def test_fetch_refuses_path_traversal(server, tmp_path):
    z = _zip({"../evil.txt": b"x"})
    server.files = {"e.zip": z}
    src = _source((ReleaseFile("e.zip", f"{server.url}/e.zip", _sha(z), unpack="zip"),))
    with pytest.raises(DownloadError, match="refusing archive member"):
        download.fetch_release(src, cache_dir=tmp_path, progress=False)
    assert not (tmp_path / "demo-release" / "evil.txt").exists()


def test_crcns_missing_credentials_before_any_download(server, tmp_path, monkeypatch):
    monkeypatch.delenv("CRCNS_USERNAME", raising=False)
    monkeypatch.setenv("CRCNS_PASSWORD", "s3cret")
    server.files = {"open.bin": b"o", "aa.zip": b"z"}
    src = _source((ReleaseFile("open.bin", f"{server.url}/open.bin", None),
                   ReleaseFile("aa.zip", f"{server.url}/crcns/aa.zip", None, unpack="zip", credentials="crcns")))
    with pytest.raises(CredentialsError, match="CRCNS_USERNAME"):
        download.fetch_release(src, cache_dir=tmp_path, progress=False)
    assert server.gets == [] and server.logins == []


def test_crcns_login_then_download(server, tmp_path, monkeypatch):
    z = _zip({"all_stims/x.wav": b"w"})
    server.files = {"aa-1/crcns-aa1.zip": z}
    monkeypatch.setenv("CRCNS_USERNAME", "alice")
    monkeypatch.setenv("CRCNS_PASSWORD", "s3cret")
    monkeypatch.setenv("STRFH5_CRCNS_LOGIN_URL", f"{server.url}/login_form")
    src = _source((ReleaseFile("crcns-aa1.zip", f"{server.url}/crcns/aa-1/crcns-aa1.zip", _sha(z), unpack="zip",
                               credentials="crcns"),))
    raw = download.fetch_release(src, cache_dir=tmp_path, progress=False)
    assert (raw / "all_stims" / "x.wav").read_bytes() == b"w"
    assert server.logins[0]["__ac_name"] == "alice"
    n = len(server.gets)
    download.fetch_release(src, cache_dir=tmp_path, progress=False)
    assert len(server.gets) == n  # cache hit


def test_crcns_refused_login_is_reported_not_saved(server, tmp_path, monkeypatch):
    server.files = {"aa-1/crcns-aa1.zip": b"zz"}
    monkeypatch.setenv("CRCNS_USERNAME", "alice")
    monkeypatch.setenv("CRCNS_PASSWORD", "wrong")
    monkeypatch.setenv("STRFH5_CRCNS_LOGIN_URL", f"{server.url}/login_form")
    src = _source((ReleaseFile("crcns-aa1.zip", f"{server.url}/crcns/aa-1/crcns-aa1.zip", None, unpack="zip",
                               credentials="crcns"),))
    with pytest.raises(CredentialsError, match="HTML page"):
        download.fetch_release(src, cache_dir=tmp_path, progress=False)
    assert not (tmp_path / "demo-release" / "downloads" / "crcns-aa1.zip").exists()


def test_real_crcns_sources_need_credentials(tmp_path, monkeypatch):
    monkeypatch.delenv("CRCNS_USERNAME", raising=False)
    monkeypatch.delenv("CRCNS_PASSWORD", raising=False)
    for sid in ("crcns-aa1", "crcns-aa2", "crcns-aa4", "crcns-ac1"):
        with pytest.raises(CredentialsError, match="CRCNS_USERNAME and CRCNS_PASSWORD"):
            download.fetch(sid, cache_dir=tmp_path, progress=False)
    assert not any((tmp_path).rglob("*.zip"))
