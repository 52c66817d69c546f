"""Entry point of the ``strfh5`` command.

Each subcommand lives in its own module ``strfh5/cli/<name>.py`` exposing
``register(subparsers)``, which adds its parser and sets ``func`` (a callable
taking the parsed arguments and returning the exit code).  Modules import heavy
dependencies inside ``func`` so ``strfh5 --help`` stays fast.

Exit codes: 0 success, 1 the command ran and found problems (e.g. an invalid
file), 2 usage errors or inputs that cannot be read.  A :class:`StrfH5Error`
is printed as one line, never as a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys

from ..version import __version__
from ..errors import StrfH5Error
from ..terminal import escape_text

#: subcommands, in the order `strfh5 --help` lists them
COMMANDS = (
    "validate",
    "info",
    "demo",
    "concat",
    "materialize",
    "export-nwb",
    "rewrite",
    "index",
    "quality",
    "convert",
    "fetch",
    "sources",
    "clean",
)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="strfh5",
        description="strfh5: open HDF5 files of stimuli and neural responses.",
    )
    p.add_argument("--version", action="version", version=f"strfh5 {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        modname = f"{__package__}.{name.replace('-', '_')}"
        if importlib.util.find_spec(modname) is None:
            continue
        importlib.import_module(modname).register(sub)
    return p


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except StrfH5Error as e:
        print(escape_text(f"strfh5 {args.command}: error: {e}"), file=sys.stderr)
        return 2
    except (FileNotFoundError, FileExistsError, IsADirectoryError, NotADirectoryError, PermissionError) as e:
        print(escape_text(f"strfh5 {args.command}: error: {e}"), file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # pragma: no cover
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
