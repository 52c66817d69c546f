"""strfh5.simulate.writing: the streamed file equals the in-memory simulation; the progress bar option."""

from __future__ import annotations

import io
import sys

import numpy as np
import pytest

import strfh5
from simulate_cases import SMALL, rows, same_rows
from strfh5 import simulate as sim


def test_streamed_file_equals_in_memory(tmp_path):
    path = sim.write_simulated(tmp_path / "s.strf.h5", seed=2, keep_waveform=True, **SMALL)
    mem = sim.simulate_contents(seed=2, keep_waveform=True, **SMALL)
    with strfh5.FileContents(path) as f:
        assert f.stim_ids == mem.stim_ids and f.neuron_ids == mem.neuron_ids
        assert f.stim_meta == mem.stim_meta and f.nrn_meta == mem.nrn_meta
        assert f.info.metadata == mem.info.metadata and f.info.transform == mem.info.transform
        assert np.array_equal(f.repeats, mem.repeats)
        same_rows(rows(f), rows(mem))
        for s in range(f.S):
            assert f.stim(s).tobytes() == mem.stim(s).tobytes()
            assert np.array_equal(f.waveform(s)[0], mem.waveform(s)[0])
    report = strfh5.validate(path, checksums=True)
    assert report.ok and not report.findings, [str(x) for x in report.findings]  # not even a warning


class _Terminal(io.StringIO):
    """A stderr that says it is a terminal."""

    def isatty(self):
        return True


@pytest.mark.parametrize("progress, terminal, shown", [
    (True, False, True), (False, False, False), (None, False, False),
    (None, True, True), (False, True, False),
])
def test_progress_bar_is_explicit_or_follows_the_terminal(tmp_path, monkeypatch, capsys, progress, terminal, shown):
    err = _Terminal() if terminal else None
    if terminal:
        monkeypatch.setattr(sys, "stderr", err)
    path = sim.write_simulated(tmp_path / "p.strf.h5", seed=1, progress=progress, **SMALL)
    text = err.getvalue() if terminal else capsys.readouterr().err
    if shown:  # one step per stimulus, named after the file
        assert "p.strf.h5" in text and f"{SMALL['n_stimuli']}/{SMALL['n_stimuli']}" in text and "stim" in text
    else:
        assert text == ""
    with strfh5.FileContents(path) as f:  # the bar changes nothing in the file
        assert f.S == SMALL["n_stimuli"] and f.neuron_ids == sim.simulate_contents(seed=1, **SMALL).neuron_ids


def test_in_memory_simulation_takes_the_progress_option(capsys):
    ds = strfh5.simulate_dataset(seed=1, progress=True, **SMALL)
    assert f"{SMALL['n_stimuli']}/{SMALL['n_stimuli']}" in capsys.readouterr().err
    quiet = strfh5.simulate_dataset(seed=1, progress=False, **SMALL)
    assert capsys.readouterr().err == "" and quiet.neuron_ids == ds.neuron_ids
