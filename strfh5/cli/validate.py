"""``strfh5 validate``: check files against SPEC.md.

Prints one line per finding (``FILE: CODE severity [check] OBJECT: message``)
and a summary line per file, or one JSON document with ``--json``.  Exit code:
0 every file is valid (warnings allowed), 1 at least one file has errors,
2 a file cannot be read at all (missing, not HDF5, unopenable) or the command
line is wrong.  Finding codes are listed in SPEC.md, Appendix A.
"""

from __future__ import annotations

import argparse
import json
import sys

HELP = "check strfh5 files against the format specification"

EPILOG = """\
exit status: 0 all files valid, 1 problems found, 2 a file cannot be read or bad usage.
CODES are comma-separated codes or prefixes: --select E5 keeps only response
findings, --ignore W reports errors only. Codes are listed in SPEC.md, Appendix A.
"""


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "validate",
        help=HELP,
        description=HELP + ": structure, types, invariants, metadata schemas, links and (optionally) "
        "the per-row digests.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("paths", nargs="+", metavar="PATH", help="strfh5 file(s) to check")
    p.add_argument("--json", action="store_true", help="print one JSON report instead of text")
    p.add_argument("--checksums", action="store_true",
                   help="also verify the per-row SHA-256 digests of the response data (reads every byte)")
    p.add_argument("--select", metavar="CODES", help="report only these codes / code prefixes")
    p.add_argument("--ignore", metavar="CODES", help="do not report these codes / code prefixes")
    p.add_argument("-q", "--quiet", action="store_true", help="print only the summary line of each file")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..errors import SelectionError
    from ..validation import parse_codes, validate

    try:
        select, ignore = parse_codes(args.select), parse_codes(args.ignore)
    except SelectionError as e:
        print(f"strfh5 validate: error: {e}", file=sys.stderr)
        return 2
    reports = []
    for path in args.paths:
        try:
            report = validate(path, checksums=args.checksums, select=select, ignore=ignore)
        except Exception as e:  # noqa: BLE001 - validate() should never raise; never show a traceback
            print(f"strfh5 validate: error: {path}: {type(e).__name__}: {e}", file=sys.stderr)
            return 2
        reports.append(report)
        if not args.json:
            if not args.quiet:
                for f in report.findings:
                    print(f"{path}: {f}")
            print(report.summary())
            sys.stdout.flush()
    code = max((r.exit_code for r in reports), default=0)
    if args.json:
        from ..version import __version__

        doc = {
            "strfh5": __version__,
            "checksums": bool(args.checksums),
            "exit_code": code,
            "files": [r.to_dict() for r in reports],
        }
        print(json.dumps(doc, indent=2, ensure_ascii=False))
    elif len(reports) > 1:
        n_ok = sum(r.ok for r in reports)
        print(f"{n_ok} of {len(reports)} files valid")
    return code
