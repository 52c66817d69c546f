"""``strfh5 export-nwb FILE -o OUT.nwb``: write a strfh5 file as an NWB file.

The presentations are laid end to end on a synthetic timeline recorded in the
file (:mod:`strfh5.nwb_export`); ``strfh5 convert nwb --raw OUT.nwb`` gives
back the same responses, stimuli and ids.  Needs the ``[nwb]`` extra.
"""

from __future__ import annotations

HELP = "write a strfh5 file as an NWB file (units, presentations, stimulus templates)"


def register(subparsers) -> None:
    p = subparsers.add_parser("export-nwb", help=HELP, description=HELP + "; see strfh5.nwb_export for the layout.")
    p.add_argument("input", metavar="FILE", help="strfh5 file")
    p.add_argument("-o", "--output", required=True, metavar="OUT", help="NWB file to write (*.nwb)")
    p.add_argument("--gap-s", type=float, default=1.0, metavar="S",
                   help="silence between presentation windows on the timeline, s (default: %(default)s)")
    p.add_argument("--margin-s", type=float, default=0.001, metavar="S",
                   help="margin around each presentation's spikes, s (default: %(default)s)")
    p.add_argument("--allow-external", action="store_true", help="accept a concatenation's outside sources")
    p.add_argument("--overwrite", action="store_true", help="replace OUT if it exists")
    p.set_defaults(func=run)


def run(args) -> int:
    import os

    from ..nwb_export import export_nwb

    out = export_nwb(args.input, args.output, gap_s=args.gap_s, margin_s=args.margin_s,
                     overwrite=args.overwrite, allow_external=args.allow_external)
    print(f"{out}: {os.path.getsize(out) / 2**20:.1f} MiB written")
    return 0
