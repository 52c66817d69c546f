"""``strfh5 clean``: remove what interrupted writes left in a folder (:mod:`strfh5.leftovers`)."""

from __future__ import annotations

HELP = "remove the temporary files interrupted strfh5 writes left in a folder"


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "clean", help=HELP,
        description=HELP + ": '<out>.tmp-<12 hex>', '<out>.scratch-resp-/-counts-<12 hex>', "
                           "'<out>.part-<12 hex>' and '<out>.unvalidated' (files still being written are kept).")
    p.add_argument("folders", nargs="+", metavar="FOLDER", help="folder(s) to clean (not recursive)")
    p.add_argument("-n", "--dry-run", action="store_true", help="list what would be removed, remove nothing")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..leftovers import clean_leftovers

    for folder in args.folders:
        removed = clean_leftovers(folder, dry_run=args.dry_run)
        for path in removed:
            print(("would remove " if args.dry_run else "removed ") + ascii(path)[1:-1])
        print(f"{folder}: {len(removed)} leftover file(s) {'found' if args.dry_run else 'removed'}")
    return 0
