"""``strfh5 bench``: run the benchmark suite of a strfh5 source checkout (``benchmarks/``)."""

from __future__ import annotations

import os
import sys

HELP = "run the benchmark suite (needs a source checkout with benchmarks/)"


def _repo_root() -> str:
    # strfh5/cli/bench.py -> the folder holding strfh5/ (a checkout has benchmarks/ beside it)
    return os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _import_benchmarks():
    """``benchmarks.__main__`` from the checkout this strfh5 was installed from, or None."""
    root = _repo_root()
    if not os.path.isfile(os.path.join(root, "benchmarks", "suite.py")):
        return None
    if root not in sys.path:
        sys.path.insert(0, root)
    import importlib

    try:
        return importlib.import_module("benchmarks.__main__")
    except ImportError:
        return None


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "bench", help=HELP,
        description="Benchmark strfh5 (file size, eager load, lazy open, DataLoader epochs, random access, "
                    "on-disk concat, quality metrics, peak memory) against a deepSTRF-style torch.save list of "
                    "lists, a naive HDF5 layout and raw h5py reads; prints ratios with their goals. Same as "
                    "'python -m benchmarks' in a source checkout.",
    )
    mod = _import_benchmarks()
    if mod is not None:
        mod.add_arguments(p)
    else:
        p.add_argument("rest", nargs="*", help="options of the benchmark suite")
    p.set_defaults(func=run)


def run(args) -> int:
    mod = _import_benchmarks()
    if mod is None:
        print(
            "strfh5 bench: error: the benchmark suite is not available: it lives in the benchmarks/ folder of "
            f"a strfh5 source checkout, and none was found beside this installation ({_repo_root()}). Clone the "
            "repository, 'pip install -e .' from it, and run 'strfh5 bench' or 'python -m benchmarks' there.",
            file=sys.stderr,
        )
        return 2
    return mod.run_from_args(args)
