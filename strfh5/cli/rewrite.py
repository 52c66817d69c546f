"""``strfh5 rewrite IN -o OUT [--dt-ms] [--encoding binned] [--n-bands ...] [--select ...]``.

Writes a valid file at other settings (bin width, binned counts,
spectrogram parameters recomputed from the kept waveforms) or with a subset
of the stimuli and neurons, row by row; see :func:`strfh5.rewrite`.  Exit code
0 on success, 2 when the input cannot be rewritten so.
"""

from __future__ import annotations

HELP = "write a file again at another bin width, encoding or spectrogram, or a subset of it"


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "rewrite", help=HELP,
        description=HELP + ". The new file records its source's UUID and these parameters in its metadata "
        "(provenance.rewrites).")
    p.add_argument("input", metavar="IN", help="the strfh5 file to read")
    p.add_argument("-o", "--output", required=True, metavar="OUT", help="the strfh5 file to write")
    p.add_argument("--dt-ms", type=float, help="bin width in ms (events: any; binned: a multiple of the stored)")
    p.add_argument("--encoding", choices=("events", "binned"), help="'binned' turns spike times into counts")
    p.add_argument("--n-bands", type=int, help="spectrogram bands (recomputed from the kept waveforms)")
    p.add_argument("--f-min", type=float, help="lowest spectrogram band edge, Hz")
    p.add_argument("--f-max", type=float, help="highest spectrogram band edge, Hz")
    p.add_argument("--spec-window-ms", type=float, help="spectrogram analysis window, ms")
    p.add_argument("--compression", help="spectrogram compression (none, log, log1p, cuberoot, db)")
    p.add_argument("--spec-kind", help="spectrogram filterbank (mel, log)")
    p.add_argument("--select", action="append", default=[], metavar="TABLE:KEY=V1[,V2]",
                   help="keep stimuli or neurons whose id (KEY 'id') or metadata KEY is one of the values, e.g. "
                   "'neuron:area=MLd' or 'stim:id=a,b'; repeat to combine (all must hold)")
    p.add_argument("--no-waveforms", action="store_true", help="do not copy the kept source waveforms")
    p.add_argument("--allow-external", action="store_true",
                   help="read a concatenated IN whose sources lie outside its folder")
    p.add_argument("--overwrite", action="store_true", help="replace OUT if it exists")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..fileinfo import info
    from ..rewriting import rewrite

    out = rewrite(args.input, args.output, dt_ms=args.dt_ms, encoding=args.encoding, n_bands=args.n_bands,
                  f_min=args.f_min, f_max=args.f_max, spec_window_ms=args.spec_window_ms,
                  compression=args.compression, spec_kind=args.spec_kind, select=args.select,
                  keep_waveforms=not args.no_waveforms, overwrite=args.overwrite,
                  allow_external=args.allow_external)
    d = info(out)
    print(f"{out}: {d['S']} stimuli x {d['N']} neurons, {d['encoding']} at dt = {d['dt_ms']:g} ms, "
          f"stimuli {d['stim_kind']} {d['stim_dims']}")
    return 0
