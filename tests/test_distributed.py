"""NeuralDataset under torch.distributed: two processes (gloo, CPU, 127.0.0.1) with DistributedSampler.

Each rank sees disjoint items whose union is the selection; a lazy dataset
opened in the parent reopens its HDF5 handle in each rank; DDP keeps the
ranks' parameters identical.  The ranks run ``examples/ddp_train.py``'s
``train_rank``.
"""

from __future__ import annotations

import importlib.util
import multiprocessing as mp
import os
import traceback
from pathlib import Path

import pytest
import torch
import torch.distributed as dist

import strfh5

if not dist.is_available() or not dist.is_gloo_available():  # pragma: no cover
    pytest.skip("torch.distributed with gloo is not available", allow_module_level=True)

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("ddp_train", ROOT / "examples" / "ddp_train.py")
ddp_train = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(ddp_train)

SELECTION = [0, 2, 3, 5, 7, 8, 10, 11]  # 8 of the demo's 12 stimuli: 4 per rank, no padding


@pytest.fixture(scope="module")
def demo_file(tmp_path_factory):
    return strfh5.write_simulated(tmp_path_factory.mktemp("ddp") / "demo.strf.h5", preset="demo", seed=1)


def _rank(rank, ds, port, queue):
    # one torch thread per rank: the two ranks share the machine's cores with the rest of the test run
    torch.set_num_threads(1)
    try:
        queue.put(ddp_train.train_rank(rank, 2, ds, init_method=f"tcp://127.0.0.1:{port}", epochs=2,
                                       batch_size=2))
    except BaseException:  # report, never hang the parent
        queue.put({"rank": rank, "error": traceback.format_exc()})


def _run_two(ds) -> list[dict]:
    # spawn, not fork: the ranks get the dataset pickled, as DataLoader workers do under spawn, and a fork of a
    # multi-threaded test process (an xdist worker) can inherit a held lock and hang
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    port = ddp_train.free_port()
    procs = [ctx.Process(target=_rank, args=(r, ds, port, queue)) for r in range(2)]
    for p in procs:
        p.start()
    try:
        out = [queue.get(timeout=120) for _ in procs]
    finally:
        for p in procs:
            p.join(timeout=30)
            if p.is_alive():  # pragma: no cover
                p.kill()
    errors = [r["error"] for r in out if "error" in r]
    assert not errors, errors[0]
    return sorted(out, key=lambda r: r["rank"])


@pytest.mark.parametrize("lazy", [False, True])
def test_ranks_see_disjoint_items_covering_the_selection(demo_file, lazy):
    ds = strfh5.load(demo_file, lazy=lazy)
    ds.select_stims(SELECTION)
    assert len(ds) == len(SELECTION)
    ds[0]  # a lazy dataset now holds a handle opened by this (parent) process
    parent_handle = ds.contents.handle._pid if lazy else None
    a, b = _run_two(ds)
    for epoch in range(2):
        sa, sb = set(a["seen"][epoch]), set(b["seen"][epoch])
        assert len(a["seen"][epoch]) == len(sa) == 4 and len(b["seen"][epoch]) == len(sb) == 4
        assert not sa & sb
        assert sa | sb == set(SELECTION)
    assert a["seen"][0] != a["seen"][1] or b["seen"][0] != b["seen"][1]  # set_epoch reshuffles
    assert a["param_sum"] == b["param_sum"]  # DDP kept the replicas identical
    if lazy:
        assert parent_handle == os.getpid()
        assert a["handle_pid"] == a["pid"] and b["handle_pid"] == b["pid"]  # each rank opened its own
        assert len({a["pid"], b["pid"], os.getpid()}) == 3
    ds.close()
