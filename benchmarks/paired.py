"""Paired in-process lazy-vs-eager epochs: ``python -m benchmarks.paired FILE [ROUNDS]``.

Loads ``FILE`` eager, lazy, and lazy with the opt-in row cache
(``STRFH5_ROW_CACHE_MB=4096``) in one process (one torch thread), runs one
untimed epoch of each (batch 8, ``neural_collate``, workers 0), then times
the three round by round and prints each lazy mode's speed relative to the
eager epoch of the same round: median (min-max). Steadier on a shared
machine than figures measured in separate processes.
"""

from __future__ import annotations

import os
import statistics
import sys
import time


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    path, rounds = argv[0], int(argv[1]) if len(argv) > 1 else 5
    import torch

    torch.set_num_threads(1)
    import strfh5

    def epoch(ds):
        for _ in torch.utils.data.DataLoader(ds, batch_size=8, num_workers=0, collate_fn=strfh5.neural_collate):
            pass

    sets = {"eager": strfh5.load(path), "lazy": strfh5.load(path, lazy=True)}
    os.environ["STRFH5_ROW_CACHE_MB"] = "4096"
    sets["lazy, row cache"] = strfh5.load(path, lazy=True)
    for ds in sets.values():
        epoch(ds)
    times: dict = {k: [] for k in sets}
    for _ in range(rounds):
        for k, ds in sets.items():
            t = time.perf_counter()
            epoch(ds)
            times[k].append(time.perf_counter() - t)
    for k in ("lazy", "lazy, row cache"):
        q = [e / t for e, t in zip(times["eager"], times[k])]
        print(f"{k}: speed vs eager {statistics.median(q):.3f}x ({min(q):.2f}-{max(q):.2f}), "
              f"epochs {statistics.median(times[k]):.3f} s vs {statistics.median(times['eager']):.3f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
