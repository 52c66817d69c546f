"""Interrupted writes (issue 12, class 10): leftovers are recognisable and cleaned.

A writer killed with SIGKILL mid-write never leaves a file at its output
path, but leaves ``<out>.tmp-<token>`` and ``<out>.scratch-*-<token>``.  These
tests kill a real writer process, then check that the leftovers follow the
naming scheme of :mod:`strfh5.leftovers`, that a live writer's files are never
removed, and that both the next write to the same path and ``strfh5 clean`` /
:func:`strfh5.clean_leftovers` remove them.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import strfh5
from strfh5.cli.main import main
from strfh5.leftovers import find_leftovers, leftover_target

_WRITER = textwrap.dedent("""
    import sys, time
    import numpy as np
    import strfh5
    out = sys.argv[1]
    with strfh5.StreamWriter(out, encoding="binned", dt_ms=10.0, stim_kind="spectrogram", stim_dims=(1, 2),
                             neuron_ids=["a", "b"]) as w:
        for s in range(100000):
            i = w.add_stimulus(np.ones((1, 2, 5), np.float32))
            w.write_row(i, [np.ones((1, 5), np.uint8), None])
            if s == 3:
                print("writing", flush=True)
            time.sleep(0.01)
""")


def _killed_writer(out) -> None:
    """Start a writer on ``out``, wait until it writes, check a live writer's files survive cleaning, SIGKILL it."""
    proc = subprocess.Popen([sys.executable, "-c", _WRITER, str(out)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "writing"
        live = find_leftovers(out.parent, out.name)
        assert any(".tmp-" in p for p in live) and any(".scratch-resp-" in p for p in live), live
        assert strfh5.clean_leftovers(out.parent) == []  # in use: HDF5 holds its lock
        assert all(os.path.exists(p) for p in live)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()


def _write(out) -> str:
    c = strfh5.from_lists(stims=[np.ones((1, 2, 5), np.float32)], spike_times=[[[np.array([1.0])]]], dt_ms=10.0)
    return strfh5.save(c, out, overwrite=True)


def test_naming_scheme():
    assert leftover_target("a.strf.h5.tmp-0123456789ab") == "a.strf.h5"
    assert leftover_target("a.strf.h5.scratch-counts-0123456789ab") == "a.strf.h5"
    assert leftover_target("a.strf.h5.unvalidated.tmp-0123456789ab") == "a.strf.h5"
    assert leftover_target("a.strf.h5.part-0123456789ab.tmp-ba9876543210") == "a.strf.h5"
    for name in ("a.strf.h5", "a.strf.h5.tmp-xyz", "a.strf.h5.tmp-0123456789abc", "notes.tmp", ".unvalidated"):
        assert leftover_target(name) is None, name


def test_sigkill_leaves_recognisable_files_that_the_next_write_removes(tmp_path):
    out = tmp_path / "big.strf.h5"
    _killed_writer(out)
    assert not out.exists()  # never a partial file at the output path
    left = find_leftovers(tmp_path)
    assert left and all(leftover_target(p) == out.name for p in left)
    keep = tmp_path / "other.strf.h5.tmp-0123456789ab"  # another output's leftover: not this write's business
    keep.write_bytes(b"x")
    _write(out)
    assert find_leftovers(tmp_path) == [str(keep)]
    assert strfh5.validate(out).ok


def test_clean_command_and_function(tmp_path, capsys):
    out = tmp_path / "big.strf.h5"
    _killed_writer(out)
    left = find_leftovers(tmp_path)
    (tmp_path / "big.strf.h5.unvalidated").write_bytes(b"complete but never validated")
    (tmp_path / "unrelated.h5").write_bytes(b"x")
    assert main(["clean", "--dry-run", str(tmp_path)]) == 0
    assert all(os.path.exists(p) for p in left)
    assert main(["clean", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    assert f"{len(left) + 1} leftover file(s) removed" in printed
    assert sorted(os.listdir(tmp_path)) == ["unrelated.h5"]
    assert strfh5.clean_leftovers(tmp_path) == []


def test_clean_keeps_symlinks_and_refuses_a_file(tmp_path):
    target = tmp_path / "precious.h5"
    target.write_bytes(b"x")
    os.symlink(target, tmp_path / "a.strf.h5.tmp-0123456789ab")
    assert strfh5.clean_leftovers(tmp_path) == []
    assert target.exists()
    with pytest.raises(NotADirectoryError):
        strfh5.clean_leftovers(target)


def test_converter_output_cleans_a_killed_conversion(tmp_path):
    from strfh5.converters.base import validated_output

    out = tmp_path / "conv.strf.h5"
    (tmp_path / "conv.strf.h5.unvalidated").write_bytes(b"left by a killed convert")
    (tmp_path / "conv.strf.h5.unvalidated.tmp-0123456789ab").write_bytes(b"x")
    with validated_output(out, encoding="events", dt_ms=5.0, stim_kind="spectrogram", stim_dims=(1, 2),
                          neuron_ids=["n"], transform={"kind": "synthetic"}) as w:
        s = w.add_stimulus(np.ones((1, 2, 4), np.float32))
        w.write_row(s, [[np.array([1.0])]])
    assert sorted(os.listdir(tmp_path)) == ["conv.strf.h5"]
    assert strfh5.validate(out).ok
