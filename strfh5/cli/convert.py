"""``strfh5 convert SOURCE --raw DIR -o OUT [options]``: convert a public release.

The options after ``SOURCE`` are generated from the converter's
``SOURCE.options`` (``strfh5 convert SOURCE --help`` lists them): an option
``n_bands`` is ``--n-bands``, a boolean is a flag (``--keep-waveform``;
``--no-check-md5`` for one that defaults to true), a list takes
comma-separated values (``--stim-classes conspecific,flatrip``).
"""

from __future__ import annotations

import argparse
import sys

HELP = "convert a public release (unpacked in a folder) to a strfh5 file"


def register(subparsers) -> None:
    from ..converters import SOURCES

    p = subparsers.add_parser(
        "convert",
        help=HELP,
        description=HELP + ". Sources: " + ", ".join(SOURCES) + ". Run `strfh5 convert SOURCE --help` for the "
        "options of one source, `strfh5 fetch SOURCE` to download a release, `strfh5 sources` for the list.",
        usage="strfh5 convert SOURCE --raw DIR -o OUT [--overwrite] [source options...]",
    )
    p.add_argument("source", metavar="SOURCE", help="source id (see `strfh5 sources`)")
    p.add_argument("args", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    p.set_defaults(func=run)


def _list_type(conv):
    def parse(text: str):
        return [conv(x.strip()) for x in text.split(",") if x.strip()]

    return parse


def _bool(text: str) -> bool:
    t = text.strip().lower()
    if t in ("1", "true", "yes", "on"):
        return True
    if t in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true/false, got {text!r}")


def source_parser(source_id: str):
    """The argument parser of ``strfh5 convert SOURCE`` built from the source's options."""
    from ..converters import get_converter

    mod = get_converter(source_id)
    info = mod.SOURCE
    p = argparse.ArgumentParser(
        prog=f"strfh5 convert {source_id}",
        description=f"{info.title}. {info.citation} Access: {info.access}.",
        argument_default=argparse.SUPPRESS,
    )
    p.add_argument("--raw", required=True, metavar="DIR", help="folder holding the unpacked release "
                   f"(`strfh5 fetch {source_id}` prints it)")
    p.add_argument("-o", "--output", required=True, metavar="OUT", help="the .strf.h5 file to write")
    p.add_argument("--overwrite", action="store_true", help="replace OUT if it exists")
    for opt in info.options:
        flag = "--" + opt.name.replace("_", "-")
        default = f" (default: {opt.default})" if opt.default is not None else ""
        choices = f"; one of {', '.join(map(str, opt.choices))}" if opt.choices else ""
        if opt.type is bool and not opt.multiple:
            p.add_argument(flag, dest=opt.name, action=argparse.BooleanOptionalAction,
                           help=opt.help + default)
        elif opt.multiple:
            conv = _bool if opt.type is bool else opt.type
            p.add_argument(flag, dest=opt.name, type=_list_type(conv), metavar="A,B,...",
                           help=opt.help + " (comma-separated" + choices + ")" + default)
        else:
            p.add_argument(flag, dest=opt.name, type=opt.type, choices=opt.choices, help=opt.help + default)
    return mod, p


def run(args) -> int:
    import warnings

    from ..converters import convert
    from ..converters.base import ConversionWarning

    mod, parser = source_parser(args.source)
    ns = vars(parser.parse_args(args.args))
    raw, out = ns.pop("raw"), ns.pop("output")
    overwrite = ns.pop("overwrite", False)
    from pathlib import Path

    from ..errors import ConverterError

    if Path(out).exists() and not overwrite:
        raise ConverterError(f"{out} exists (pass --overwrite to replace it)")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConversionWarning)
        path = convert(args.source, raw, out, overwrite=overwrite, **ns)
    quirks = [w for w in caught if issubclass(w.category, ConversionWarning)]
    for w in quirks[:50]:
        print(f"warning: {w.message}", file=sys.stderr)
    if len(quirks) > 50:
        print(f"warning: ... and {len(quirks) - 50} more (all are listed in the file's metadata "
              "provenance.quirks)", file=sys.stderr)
    for w in caught:
        if not issubclass(w.category, ConversionWarning):
            warnings.showwarning(w.message, w.category, w.filename, w.lineno)
    from ..contents import FileContents

    with FileContents(str(path)) as c:
        print(f"wrote {path}: {c.S} stimuli x {c.N} neurons, {int((c.repeats > 0).sum())} recorded pairs, "
              f"encoding {c.info.encoding}, dt {c.info.dt_ms:g} ms ({len(quirks)} release quirk(s) handled)")
    return 0
