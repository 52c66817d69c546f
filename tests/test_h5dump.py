"""Files are plain HDF5: Debian's ``h5dump`` (hdf5-tools) dumps them without error.

Skipped when ``h5dump`` is not installed (``.ci/run`` installs it where apt is available).
"""

from __future__ import annotations

import re
import shutil
import subprocess

import numpy as np
import pytest

import strfh5
from strfh5 import layout as L

H5DUMP = shutil.which("h5dump")
pytestmark = pytest.mark.skipif(H5DUMP is None, reason="h5dump not installed (apt-get install hdf5-tools)")


def _dump(*args) -> str:
    p = subprocess.run([H5DUMP, *args], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert "error" not in p.stderr.lower(), p.stderr
    return p.stdout


def test_h5dump_events_file(tmp_path):
    path = tmp_path / "ev.strf.h5"
    strfh5.write_simulated(path, n_stimuli=2, n_neurons=3, n_freqs=4, n_bins=(5, 8), repeats=2, seed=3,
                           keep_waveform=True, strf_ms=10.0)
    out = _dump(str(path))
    for name in ('ATTRIBUTE "strfh5_format"', 'ATTRIBUTE "uuid"', 'DATASET "responses"', 'DATASET "counts"',
                 'DATASET "repeats"', 'GROUP "000000"', 'DATASET "waveform"', 'DATASET "metadata"',
                 "H5T_VLEN", '"strfh5"'):
        assert name in out, name
    # the spike times of one element, printed from the VLEN heap, are the ones the library reads
    with strfh5.FileContents(path) as c:
        n, ev = next((n, e) for n, e in enumerate(c.row(0)) if e is not None and e.times.size)
    one = _dump("-d", "/responses", "-s", f"0,{n}", "-c", "1,1", str(path))
    m = re.search(r"\(0,%d\): \(([^)]*)\)" % n, one)
    assert m, one
    printed = np.array([float(x) for x in m.group(1).split(",")])
    assert printed.size == ev.times.size
    assert np.allclose(printed, ev.times, rtol=1e-5, atol=1e-3)


def test_h5dump_binned_file_dataset_and_attrs(tmp_path):
    path = tmp_path / "b.strf.h5"
    c = strfh5.contents_from_lists(stims=[np.ones((1, 2, 3), np.float32)],
                                   responses=[[np.array([[7, 0, 65000]]), None]], dt_ms=5)
    strfh5.save(c, path)
    out = _dump("-d", "/responses", str(path))
    assert "H5T_STD_U16LE" in out and "65000" in out
    attrs = _dump("-A", str(path))
    assert '"binned"' in attrs and f'"{L.FORMAT_VERSION_STR}"' in attrs
