"""The example scripts run headless and write their figures (so they cannot rot)."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = {
    "explore_aa.py": ["aa1_stimulus.png", "aa1_stim_with_response.png", "aa1_coverage.png", "aa2_coverage.png"],
    "concatenate_aa.py": ["combined_coverage.png"],
    "nat4_tour.py": ["nat4_coverage.png", "nat4_stim_with_response.png", "nat4_joint_coverage.png"],
}
NEEDS = ("strfh5.simulate", "strfh5.plotting", "strfh5.concatenation")


@pytest.mark.parametrize("script", sorted(EXAMPLES))
def test_example_runs(script, tmp_path):
    missing = [m for m in NEEDS if importlib.util.find_spec(m) is None]
    if missing:
        pytest.skip(f"example needs modules not written yet: {missing}")
    env = dict(os.environ, MPLBACKEND="Agg", OMP_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, str(ROOT / "examples" / script), str(tmp_path / "out")],
                          capture_output=True, text=True, env=env, timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    for png in EXAMPLES[script]:
        f = tmp_path / "out" / png
        assert f.is_file() and f.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", png
    assert "Traceback" not in proc.stderr
