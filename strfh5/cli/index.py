"""``strfh5 index``: add (or rebuild) the response byte-range index of existing files.

Files written by this library carry the index already; this command adds it
to files written before it existed or by other writers (SPEC §7.2). The file is modified in place; its data are untouched.
"""

from __future__ import annotations

HELP = "add the response byte-range index to existing files (faster lazy reads)"


def register(subparsers) -> None:
    p = subparsers.add_parser("index", help=HELP, description=HELP + ".")
    p.add_argument("files", nargs="+", metavar="FILE", help="plain (not concatenated) strfh5 files")
    p.set_defaults(func=run)


def run(args) -> int:
    import os
    import time

    from ..writer import add_index

    for path in args.files:
        t0 = time.perf_counter()
        before = os.path.getsize(path)
        add_index(path)
        grown = (os.path.getsize(path) - before) / 2**20
        print(f"{path}: index written in {time.perf_counter() - t0:.2f} s (+{grown:.1f} MiB)")
    return 0
