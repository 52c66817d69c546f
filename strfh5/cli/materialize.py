"""``strfh5 materialize``: a self-contained copy of a concatenated file.

Copies every response and stimulus (row by row, bounded memory) into a plain
strfh5 file with its own digests and no links, to send to another lab.
"""

from __future__ import annotations

HELP = "write a self-contained copy of a concatenated file (real data, no links)"


def register(subparsers) -> None:
    p = subparsers.add_parser("materialize", help=HELP, description=HELP + ".")
    p.add_argument("input", metavar="IN", help="concatenated strfh5 file")
    p.add_argument("-o", "--output", required=True, metavar="OUT", help="file to write")
    p.add_argument("--allow-external", action="store_true",
                   help="accept sources outside the input's folder")
    p.add_argument("--overwrite", action="store_true", help="replace OUT if it exists")
    p.set_defaults(func=run)


def run(args) -> int:
    import os
    import time

    from ..concatenation import materialize

    t0 = time.perf_counter()
    out = materialize(args.input, args.output, overwrite=args.overwrite, allow_external=args.allow_external)
    print(f"{out}: {os.path.getsize(out) / 2**20:.1f} MiB written in {time.perf_counter() - t0:.1f} s")
    return 0
