"""``strfh5 info``: summarise strfh5 files (reads tables only, fast on big files)."""

from __future__ import annotations

import json

HELP = "summarise strfh5 files: shapes, coverage, repeats, durations, sources, schemas"


def register(subparsers) -> None:
    p = subparsers.add_parser("info", help=HELP, description=HELP + ". Reads only the tables and /repeats.")
    p.add_argument("paths", nargs="+", metavar="PATH", help="strfh5 file(s)")
    p.add_argument("--json", action="store_true",
                   help="print JSON (an object for one file, a list for several)")
    p.add_argument("--allow-external", action="store_true",
                   help="accept a concatenated file whose sources lie outside its folder")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..fileinfo import format_info, info

    docs = [info(p, allow_external=args.allow_external) for p in args.paths]
    if args.json:
        print(json.dumps(docs[0] if len(docs) == 1 else docs, indent=2, ensure_ascii=False))
    else:
        print("\n\n".join(format_info(d) for d in docs))
    return 0
