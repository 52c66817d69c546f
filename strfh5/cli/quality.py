"""``strfh5 quality``: per-neuron SNR and CCmax of a file, optionally stored in it.

Prints one line per neuron (index, id, SNR, CCmax) and a summary, or a JSON
document with ``--json``.  ``--write`` stores the values in the neuron
metadata (``/neurons/metadata``, rewritten in place; NaN/inf stored as null)
and the parameters used under ``quality`` in the file metadata (``/metadata``),
after checking every updated record against the file's schemas.  A
concatenated file holds no metadata of its own sources and is refused for
``--write``: run it on each source, then concatenate again.
"""

from __future__ import annotations

import argparse
import json
import math
import sys


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "quality",
        help="per-neuron SNR and CCmax (noise ceiling) of a file",
        description=(
            "Compute the Sahani-Linden SNR and the split-half/Spearman-Brown noise ceiling CCmax of every "
            "neuron (length-weighted over stimuli), print them, and optionally store them in the file."
        ),
    )
    p.add_argument("file", help="a *.strf.h5 file")
    p.add_argument("--write", action="store_true", help="store snr/ccmax in the neuron metadata of FILE (in place)")
    p.add_argument("--max-ccmax-iters", type=int, default=126, metavar="N",
                   help="half-splits per repeat count: all when there are at most N, else N random (default 126)")
    p.add_argument("--seed", type=int, default=0, metavar="S", help="seed of the random half-splits (default 0)")
    p.add_argument("--dt-ms", type=float, default=None, metavar="DT",
                   help="bin width in ms to read the responses at (default: the file's dt_ms)")
    p.add_argument("--json", action="store_true", help="print a JSON document instead of the table")
    p.set_defaults(func=run)


def _fmt(x: float) -> str:
    x = float(x)
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return f"{x:.4f}"


def summarize(snr, ccmax) -> dict:
    """Counts and quantiles of the finite values of each metric."""
    import numpy as np

    out = {"n_neurons": int(len(snr))}
    for name, v in (("snr", np.asarray(snr, float)), ("ccmax", np.asarray(ccmax, float))):
        fin = v[np.isfinite(v)]
        d = {"n_finite": int(fin.size), "n_nan": int(np.isnan(v).sum()), "n_inf": int(np.isinf(v).sum())}
        if fin.size:
            q = np.quantile(fin, [0.0, 0.25, 0.5, 0.75, 1.0])
            d.update(min=float(q[0]), q25=float(q[1]), median=float(q[2]), q75=float(q[3]), max=float(q[4]),
                     mean=float(fin.mean()))
        out[name] = d
    return out


def run(args: argparse.Namespace) -> int:
    from ..annotate import check_writable
    from ..errors import MetadataError
    from ..quality import compute_neuron_quality, json_number, quality_record, write_quality
    from ..reader import load

    if args.max_ccmax_iters < 1:
        print(f"strfh5 quality: error: --max-ccmax-iters must be >= 1, got {args.max_ccmax_iters}", file=sys.stderr)
        return 2
    if args.dt_ms is not None and not (math.isfinite(args.dt_ms) and args.dt_ms > 0):
        print(f"strfh5 quality: error: --dt-ms must be a positive number, got {args.dt_ms}", file=sys.stderr)
        return 2
    if args.write:  # refuse before the (long) computation
        try:
            check_writable(args.file, what="strfh5 quality --write")
        except MetadataError as e:
            print(f"strfh5 quality: error: {e}", file=sys.stderr)
            return 2
    ds = load(args.file, lazy=True, dt_ms=args.dt_ms)
    try:
        out = compute_neuron_quality(ds, max_ccmax_iters=args.max_ccmax_iters, seed=args.seed)
        ids = list(getattr(ds, "neuron_ids", [str(i) for i in range(ds.get_N())]))
        dt_ms = float(getattr(ds, "dt", args.dt_ms or 0.0)) or args.dt_ms
    finally:
        ds.close()
    snr, cc = out["snr"].tolist(), out["ccmax"].tolist()
    params = quality_record(args.max_ccmax_iters, args.seed, dt_ms)
    summary = summarize(snr, cc)
    if args.write:
        write_quality(args.file, snr, cc, params)
    if args.json:
        doc = {
            "file": args.file,
            "parameters": params,
            "written": bool(args.write),
            "neurons": [{"index": i, "id": ids[i], "snr": json_number(snr[i]), "ccmax": json_number(cc[i])} for i in range(len(snr))],
            "summary": summary,
        }
        print(json.dumps(doc, indent=1, allow_nan=False))
        return 0
    w = max([len("id")] + [len(x) for x in ids])
    print(f"{'index':>6}  {'id':<{w}}  {'snr':>10}  {'ccmax':>8}")
    for i in range(len(snr)):
        print(f"{i:>6}  {ids[i]:<{w}}  {_fmt(snr[i]):>10}  {_fmt(cc[i]):>8}")
    print()
    print(f"{summary['n_neurons']} neurons; dt = {dt_ms} ms; max_ccmax_iters = {args.max_ccmax_iters}; seed = {args.seed}")
    for name in ("snr", "ccmax"):
        d = summary[name]
        line = f"{name}: {d['n_finite']} finite, {d['n_nan']} nan, {d['n_inf']} inf"
        if d["n_finite"]:
            line += f"; median {d['median']:.4f} (quartiles {d['q25']:.4f} .. {d['q75']:.4f}), range {d['min']:.4f} .. {d['max']:.4f}"
        print(line)
    if args.write:
        print(f"wrote snr and ccmax into {args.file}:/neurons/metadata and the parameters into /metadata 'quality'")
    return 0
