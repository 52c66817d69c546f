"""Train on one strfh5 file with several processes: torch.distributed (DDP) + DistributedSampler.

Every process (rank) opens the same file — a path on a shared file system or
an ``https://`` URL read lazily by range requests — and a
:class:`torch.utils.data.distributed.DistributedSampler` hands each rank its
own share of the items (stimuli) of the selection.  A lazy dataset opens its
HDF5 handle in the process that reads it, so ranks (and their DataLoader
workers) never share one.  The model is a deliberately small mean-rate
encoder (stimulus band energies -> each neuron's mean rate) wrapped in
:class:`torch.nn.parallel.DistributedDataParallel`; replace it with yours.

One machine, two processes (gloo on CPU)::

    python examples/ddp_train.py demo_output/demo.strf.h5 --nprocs 2 --lazy

Several machines (run on each; node 0's address as the rendezvous point)::

    torchrun --nnodes 2 --nproc-per-node 4 --node-rank K --master-addr HOST0 --master-port 29500 \\
        examples/ddp_train.py /shared/data.strf.h5 --lazy --backend nccl

(see docs/distributed.md).  Under ``torchrun`` the script reads ``RANK``,
``WORLD_SIZE`` and ``MASTER_ADDR``/``MASTER_PORT`` from the environment.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader
from torch.utils.data.distributed import DistributedSampler

import strfh5

__all__ = ["MeanRateModel", "train_rank", "free_port", "main"]


class MeanRateModel(torch.nn.Module):
    """Band energies of the stimulus (B, F) -> mean rate of each neuron (B, N)."""

    def __init__(self, n_bands: int, n_neurons: int):
        super().__init__()
        self.linear = torch.nn.Linear(n_bands, n_neurons)

    def forward(self, stims: torch.Tensor) -> torch.Tensor:
        return self.linear(stims.mean(dim=(1, 3)))


def _targets(batch) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean response of each (item, neuron) over its valid repeats and bins, and where it exists."""
    valid = batch["valid_mask"]
    resp = torch.where(valid, batch["responses"], torch.zeros(()))
    n = valid.sum(dim=(2, 3))
    return resp.sum(dim=(2, 3)) / n.clamp(min=1), n > 0


def train_rank(rank: int, world: int, dataset, *, init_method: str = "env://", backend: str = "gloo",
               epochs: int = 1, batch_size: int = 4, workers: int = 0, lr: float = 1e-3) -> dict:
    """Train on this rank's share of ``dataset`` (a NeuralDataset, or a path/URL opened lazily).

    Returns what this rank did: the stimulus indices it saw per epoch, its
    last loss, the process id that opened the lazy file handle, and a
    checksum of the final parameters (identical on every rank under DDP).
    """
    if backend == "gloo":
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // world))  # CPU ranks: share the cores, not oversubscribe
    dist.init_process_group(backend, init_method=init_method, rank=rank, world_size=world)
    try:
        ds = strfh5.load(dataset, lazy=True) if isinstance(dataset, (str, os.PathLike)) else dataset
        sampler = DistributedSampler(ds, num_replicas=world, rank=rank, shuffle=True, seed=0)
        loader = DataLoader(ds, batch_size=batch_size, sampler=sampler, num_workers=workers,
                            collate_fn=strfh5.neural_collate)
        first = ds[0]
        torch.manual_seed(0)  # same initial weights on every rank (DDP also broadcasts rank 0's)
        model = DistributedDataParallel(MeanRateModel(first["stims"].shape[-2], len(first["neuron_indices"])))
        opt = torch.optim.SGD(model.parameters(), lr=lr)
        seen, loss = [], torch.zeros(())
        for epoch in range(epochs):
            sampler.set_epoch(epoch)
            seen.append([])
            for batch in loader:
                seen[-1] += batch["stim_indices"].tolist()
                target, ok = _targets(batch)
                loss = ((model(batch["stims"]) - target)[ok] ** 2).mean()
                opt.zero_grad()
                loss.backward()
                opt.step()
        handle_pid = ds.contents.handle._pid if ds.lazy else None
        params = torch.cat([p.detach().reshape(-1) for p in model.parameters()])
        return {"rank": rank, "pid": os.getpid(), "handle_pid": handle_pid, "seen": seen,
                "loss": float(loss.detach()), "param_sum": float(params.double().sum())}
    finally:
        dist.destroy_process_group()


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now (for the rendezvous of local processes)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _local(rank: int, world: int, args, port: int) -> None:
    report = train_rank(rank, world, args.file, init_method=f"tcp://127.0.0.1:{port}", backend=args.backend,
                        epochs=args.epochs, batch_size=args.batch_size, workers=args.workers)
    print(f"rank {rank}: items {sorted(report['seen'][-1])}, last loss {report['loss']:.4f}, "
          f"parameter checksum {report['param_sum']:.6f}", flush=True)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("file", help="strfh5 file: a path (shared file system) or an http(s) URL")
    p.add_argument("--nprocs", type=int, default=2, help="local processes when not under torchrun")
    p.add_argument("--backend", default="gloo", help="gloo (CPU) or nccl (GPUs)")
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--batch-size", type=int, default=4)
    p.add_argument("--workers", type=int, default=0, help="DataLoader workers per rank")
    p.add_argument("--lazy", action="store_true", help="accepted for clarity: ranks always read lazily")
    args = p.parse_args(argv)
    if "RANK" in os.environ and "WORLD_SIZE" in os.environ:  # under torchrun
        report = train_rank(int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"]), args.file,
                            backend=args.backend, epochs=args.epochs, batch_size=args.batch_size,
                            workers=args.workers)
        print(f"rank {report['rank']}: {len(report['seen'][-1])} items, loss {report['loss']:.4f}")
        return 0
    torch.multiprocessing.spawn(_local, args=(args.nprocs, args, free_port()), nprocs=args.nprocs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
