"""What the example scripts share: headless figures, the output folders, the command line.

Importing this module selects matplotlib's non-interactive ``Agg`` backend, so
the examples run without a display (the test suite runs them).
"""

from __future__ import annotations

import argparse
import os
from typing import Callable

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def data_folder(outdir: str) -> str:
    """Create ``outdir`` and ``outdir/data`` (for the generated files); return the latter."""
    data = os.path.join(outdir, "data")
    os.makedirs(data, exist_ok=True)
    return data


def simulated(data: str, name: str, preset: str, **options) -> str:
    """Write ``data/name.strf.h5`` with :func:`strfh5.write_simulated` (``preset``, ``options``); return its path."""
    import strfh5

    return strfh5.write_simulated(os.path.join(data, f"{name}.strf.h5"), preset=preset, overwrite=True, **options)


def save_png(fig, outdir: str, name: str) -> str:
    """Write ``fig`` as ``outdir/name`` (PNG), close it and return the path."""
    path = os.path.join(outdir, name)
    fig.savefig(path)
    plt.close(fig)
    return path


def run(main: Callable[[str], None], doc: str) -> None:
    """Parse ``OUTDIR`` from the command line and call ``main(OUTDIR)``."""
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("outdir", help="folder for the figures (PNG) and generated data")
    main(ap.parse_args().outdir)
