"""``strfh5 info``: summarise strfh5 files (reads the tables, checks each stimulus unread: fast on big files).

Everything printed comes from the file, so it is escaped (:mod:`strfh5.terminal`):
no escape sequence of a hostile title or id reaches the terminal.
"""

from __future__ import annotations

import json
import sys

HELP = "summarise strfh5 files: shapes, coverage, repeats, durations, sources, schemas"


def register(subparsers) -> None:
    p = subparsers.add_parser("info", help=HELP, description=HELP + ". Reads the tables and /repeats and checks every "
                       "stimulus as a load does, without reading stimulus values or spike times; a file a load "
                       "refuses is refused (exit 2).")
    p.add_argument("paths", nargs="+", metavar="PATH", help="strfh5 file(s)")
    p.add_argument("--json", action="store_true",
                   help="print JSON (an object for one file, a list for several)")
    p.add_argument("--allow-external", action="store_true",
                   help="accept a concatenated file whose sources lie outside its folder")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..errors import StrfH5Error
    from ..fileinfo import format_info, info
    from ..terminal import escape_json, escape_text

    docs = []
    for p in args.paths:
        try:
            docs.append(info(p, allow_external=args.allow_external))
        except StrfH5Error:
            raise  # one line from the command's error handler
        except Exception as e:  # noqa: BLE001 - a file must never make `info` print a traceback
            print(escape_text(f"strfh5 info: error: {p}: cannot be summarised ({type(e).__name__}: {e})",
                              keep_newlines=False), file=sys.stderr)
            return 2
    if args.json:
        print(escape_json(json.dumps(docs[0] if len(docs) == 1 else docs, indent=2, ensure_ascii=False)))
    else:
        print("\n\n".join(format_info(d) for d in docs))
    return 0
