"""``strfh5 concat``: concatenate strfh5 files on disk through virtual datasets.

Writes a small file whose responses map the inputs' blocks (block-diagonal
along stimuli and neurons, cross blocks missing) and whose stimuli link to
the inputs; see SPEC.md §9.  Exit code 0 on success, 2 when an input cannot
be read or the inputs cannot be concatenated.
"""

from __future__ import annotations

HELP = "concatenate strfh5 files (virtual datasets: small, instant, no data copied)"


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "concat",
        help=HELP,
        description=HELP + ". Stimuli and neurons of the inputs follow one another block by block; "
        "(stimulus, neuron) pairs across blocks read as not recorded. The output refers to its sources by "
        "paths relative to its own folder: keep them together (use 'strfh5 materialize' for a "
        "self-contained copy).",
    )
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="strfh5 files, in block order (two or more)")
    p.add_argument("-o", "--output", required=True, metavar="OUT", help="concatenated file to write")
    p.add_argument("--merge-stimuli", action="store_true",
                   help="merge a stimulus id present in several inputs into one row (its data must be identical)")
    p.add_argument("--allow-duplicate-neurons", action="store_true",
                   help="accept the same neuron id in several inputs (refused by default)")
    p.add_argument("--allow-external", action="store_true",
                   help="accept inputs outside the output's folder (readers then need allow_external=True)")
    p.add_argument("--overwrite", action="store_true", help="replace OUT if it exists")
    p.set_defaults(func=run)


def run(args) -> int:
    import json
    import os
    import sys
    import time

    import h5py

    from .. import layout as L
    from ..concatenation import concat

    if len(args.inputs) < 2:
        print("strfh5 concat: error: give at least two input files", file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    out = concat(args.inputs, args.output, merge_stimuli=args.merge_stimuli,
                 allow_duplicate_neurons=args.allow_duplicate_neurons, allow_external=args.allow_external,
                 overwrite=args.overwrite)
    dt = time.perf_counter() - t0
    with h5py.File(out, "r") as f:
        meta = json.loads(f[L.METADATA][()].decode("utf-8") if isinstance(f[L.METADATA][()], bytes)
                          else f[L.METADATA][()])
        S, N = f[L.REPEATS].shape
        K = f[L.SOURCE_PATHS].shape[0]
    print(f"{out}: {S} stimuli x {N} neurons from {K} source file(s), "
          f"{os.path.getsize(out) / 1024:.1f} KiB, {dt:.2f} s")
    shared = meta.get("shared_stimulus_ids") or []
    merged = meta.get("merged_stimulus_ids") or []
    if merged:
        print(f"merged stimuli ({len(merged)}): " + ", ".join(merged[:20]) + (" ..." if len(merged) > 20 else ""))
    if shared:
        print(f"stimulus ids in several blocks, kept in separate rows ({len(shared)}): " + ", ".join(shared[:20])
              + (" ..." if len(shared) > 20 else "") + " (use --merge-stimuli to merge identical ones)")
    return 0
