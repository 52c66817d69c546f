"""``strfh5 fetch SOURCE [--cache DIR]``: download a public release into the cache."""

from __future__ import annotations

HELP = "download a public release (pooch cache; hash-checked; unpacked)"


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "fetch",
        help=HELP,
        description=HELP + ". The cache is --cache, else $STRFH5_CACHE, else the platform cache folder. "
        "CRCNS releases need CRCNS_USERNAME and CRCNS_PASSWORD (free account at https://crcns.org).",
    )
    p.add_argument("source", metavar="SOURCE", help="source id (see `strfh5 sources`)")
    p.add_argument("--cache", metavar="DIR", help="cache folder (default: $STRFH5_CACHE or the platform cache)")
    p.add_argument("--file", action="append", dest="files", metavar="NAME",
                   help="fetch only this release file (repeatable; also the way to get optional files)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..converters.download import fetch

    raw = fetch(args.source, cache_dir=args.cache, progress=not args.no_progress, files=args.files)
    print(f"{args.source}: release ready in {raw}")
    print(f"convert it with: strfh5 convert {args.source} --raw {raw} -o {args.source}.strf.h5")
    return 0
