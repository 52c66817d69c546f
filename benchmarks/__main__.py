"""``python -m benchmarks``: run the strfh5 benchmark suite, print the table, write JSON."""

from __future__ import annotations

import argparse
import json
import math
import os
import sys

from .scales import DEFAULT_SCALES, SCALES


def build_parser(prog: str = "python -m benchmarks") -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=prog,
        description="Benchmark strfh5 against a deepSTRF-style torch.save list of lists, a naive "
                    "one-dataset-per-pair HDF5 layout and raw h5py row reads; print ratios and goals.",
    )
    add_arguments(p)
    return p


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Add the suite's options to ``p``."""
    p.add_argument("--scales", default=",".join(DEFAULT_SCALES),
                   help=f"comma-separated scales (default: %(default)s; known: {', '.join(SCALES)})")
    p.add_argument("--quick", action="store_true",
                   help="smoke mode: tiny versions of the scales, one run per figure (seconds)")
    p.add_argument("--large", action="store_true",
                   help="also generate (once) the 'large' file and measure the peak RSS of a lazy epoch over it")
    p.add_argument("--large-gb", type=float, default=20.0, metavar="GB",
                   help="size of the 'large' file on disk (default: %(default)s)")
    grp = p.add_mutually_exclusive_group()
    grp.add_argument("--concat-large", dest="concat_large", action="store_true", default=None,
                     help="include the 2 x 1 GB concatenation sources (default in full mode)")
    grp.add_argument("--no-concat-large", dest="concat_large", action="store_false",
                     help="skip the 2 x 1 GB concatenation sources")
    p.add_argument("--data-dir", default=os.path.join("bench_output", "data"), metavar="DIR",
                   help="cache of generated files (default: %(default)s)")
    p.add_argument("--json", default=os.path.join("bench_output", "results.json"), metavar="OUT",
                   help="where to write the results document (default: %(default)s)")
    p.add_argument("--repeats", type=int, default=None, metavar="K",
                   help="timed figures report the median of up to K runs (default 3; 1 with --quick)")
    p.add_argument("--quality-ref-neurons", type=int, default=100, metavar="N",
                   help="run the loop reference of compute_neuron_quality on N neurons and extrapolate "
                        "(0 = all; default %(default)s)")
    p.add_argument("--isolation", choices=("fork", "spawn"), default="fork",
                   help="process per figure: fork the suite process (fast) or spawn a fresh interpreter")
    p.add_argument("--remote", action="store_true",
                   help="also measure reading over HTTP (bytes and requests to open a file and read one item, "
                        "through a local Range server; needs the [remote] extra)")
    p.add_argument("--remote-mb", default="10,100", metavar="MB,...",
                   help="sizes of the files read over HTTP with --remote (default: %(default)s)")
    p.add_argument("--sections", default="scales,quality,concat,convert,spectrograms",
                   help="comma-separated sections to run (default: %(default)s; also 'safety': lazy open, eager "
                        "load and lazy epoch of each scale vs --baseline-python/--baseline-cwd, a checkout without "
                        "the read path's safety checks)")
    p.add_argument("--baseline-python", default=os.environ.get("STRFH5_BENCH_BASELINE_PYTHON"), metavar="PY",
                   help="interpreter of a baseline checkout for the 'convert ns1' and 'safety' ratios (e.g. main's "
                        ".venv/bin/python)")
    p.add_argument("--baseline-cwd", default=None, metavar="DIR",
                   help="the baseline checkout (working directory of its conversions)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress lines on stderr")


def _finite(x):
    """``x`` with NaN and infinities replaced by None (strict JSON has neither)."""
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if isinstance(x, dict):
        return {k: _finite(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_finite(v) for v in x]
    return x


def run_from_args(args) -> int:
    from .suite import Options, format_table, run

    scales = tuple(s.strip() for s in args.scales.split(",") if s.strip())
    opts = Options(
        scales=scales, quick=args.quick, large=args.large, large_gb=args.large_gb,
        concat_large=args.concat_large, data_dir=args.data_dir, isolation=args.isolation,
        quality_ref_neurons=args.quality_ref_neurons or None, k=args.repeats, verbose=not args.quiet,
        remote=args.remote, remote_mb=tuple(float(x) for x in args.remote_mb.split(",") if x.strip()),
        baseline_python=args.baseline_python, baseline_cwd=args.baseline_cwd,
        sections=tuple(x.strip() for x in args.sections.split(",") if x.strip()),
    )
    try:
        doc = run(opts)
    except ValueError as e:
        print(f"benchmarks: error: {e}", file=sys.stderr)
        return 2
    print(format_table(doc))
    if args.json:
        folder = os.path.dirname(os.path.abspath(args.json))
        os.makedirs(folder, exist_ok=True)
        with open(args.json, "w") as f:
            json.dump(_finite(doc), f, indent=1, default=float, allow_nan=False)
        print(f"results written to {args.json}")
    return 1 if any(r["status"] == "ERROR" for r in doc["rows"]) else 0


def main(argv=None) -> int:
    return run_from_args(build_parser().parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
