"""Early write-back while a file is written (strfh5.flushing): the same file, a sync that never fails a write."""

from __future__ import annotations

import os

import pytest

import strfh5
from strfh5 import flushing
from strfh5 import writer as _writer


def test_poke_starts_one_background_sync_per_threshold_and_close_waits(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(flushing, "_DATASYNC", lambda fd: calls.append(fd))
    p = tmp_path / "f.bin"
    p.write_bytes(b"x" * 10)
    b = flushing.BackgroundSync(str(p), every=100)
    b.poke(60)
    assert b._thread is None  # below the threshold
    b.poke(60)
    b._thread.join()
    assert len(calls) == 1 and b._pending == 0
    b.close()
    assert b._fd is None
    b.close()  # twice is harmless
    b.poke(1000)  # after close: nothing
    assert len(calls) == 1


def test_a_failing_sync_turns_itself_off(tmp_path, monkeypatch):
    def refuse(fd):
        raise OSError("read-only descriptor")

    monkeypatch.setattr(flushing, "_DATASYNC", refuse)
    p = tmp_path / "f.bin"
    p.write_bytes(b"")
    b = flushing.BackgroundSync(str(p), every=1)
    b.poke(5)
    b._thread.join()
    assert b.every == flushing._NEVER
    b.close()


def test_missing_file_means_no_background_sync(tmp_path):
    b = flushing.BackgroundSync(str(tmp_path / "nope"))
    b.poke(1 << 40)
    assert b._thread is None
    b.close()


@pytest.mark.parametrize("encoding", ["events", "binned"])
def test_writes_with_background_syncs_give_valid_files_and_leave_no_descriptor(tmp_path, monkeypatch, encoding):
    synced = []
    real = flushing._DATASYNC
    monkeypatch.setattr(flushing, "_DATASYNC", lambda fd: (synced.append(fd), real(fd)))
    monkeypatch.setattr(_writer, "BackgroundSync", lambda path: flushing.BackgroundSync(path, every=1))
    fds = len(os.listdir("/proc/self/fd")) if os.path.isdir("/proc/self/fd") else None
    src = strfh5.write_simulated(tmp_path / "src.strf.h5", seed=1, encoding=encoding, n_stimuli=4, n_neurons=5,
                                 n_freqs=6, n_bins=(20, 30), strf_ms=30.0, repeats=(2, 3))
    ds = strfh5.load(src)
    out = strfh5.save(ds, tmp_path / "out.strf.h5")
    ds.close()
    assert synced and strfh5.validate(out, checksums=True).ok
    if fds is not None:
        assert len(os.listdir("/proc/self/fd")) == fds
