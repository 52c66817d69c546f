"""The cross-species chimera (zebra finch AA1 + ferret NS1) from the stored files alone.

deepSTRF's chimera notebook pools CRCNS AA1 (zebra finch, 32 kHz songs) with
NS1 (ferret A1, natural sounds) into one training set.  NS1's files hold
spectrograms at 5 ms with 34 bands; AA1's are stored at 1 ms with 32 mel bands
but keep their song waveforms, so AA1 is *loaded* at 5 ms and 34 bands — its
spectrograms recomputed from the stored waveforms with the file's own recipe —
and the two datasets are concatenated in memory (``aa1 + ns1``).  No raw
release is needed: only the two ``.strf.h5`` files.

A small linear-nonlinear STRF model (one temporal filter bank per neuron,
Poisson loss on the repeat-averaged counts, missing pairs masked) is then
trained for a few steps through a ``DataLoader``, once on eager datasets and
once on lazy ones (stimuli recomputed per item, in the loader's workers).

Usage: python examples/chimera.py AA1.strf.h5 NS1.strf.h5 [--steps 5] [--workers 0]
"""

from __future__ import annotations

import argparse

import torch
from torch.utils.data import DataLoader

import strfh5

DT_MS = 5.0
N_BANDS = 34
LAGS = 8  # 40 ms of stimulus history


class LinearNonlinear(torch.nn.Module):
    """Per-neuron spectro-temporal filters over ``LAGS`` bins, then softplus (a rate per bin)."""

    def __init__(self, n_neurons: int, n_bands: int, lags: int = LAGS):
        super().__init__()
        self.lags = lags
        self.conv = torch.nn.Conv1d(n_bands, n_neurons, kernel_size=lags)

    def forward(self, stims: torch.Tensor) -> torch.Tensor:
        x = stims[:, 0]  # (B, F, T)
        x = torch.nn.functional.pad(x, (self.lags - 1, 0))  # causal: bin t sees bins t-lags+1 .. t
        return torch.nn.functional.softplus(self.conv(x))  # (B, N, T)


def masked_poisson_loss(rate: torch.Tensor, responses: torch.Tensor) -> torch.Tensor:
    """Poisson loss on repeat-averaged counts, over recorded (neuron, bin) pairs only."""
    valid = ~torch.isnan(responses)
    n = valid.sum(dim=2)  # (B, N, T) repeats present
    mean = torch.where(valid, responses, torch.zeros_like(responses)).sum(dim=2) / n.clamp(min=1)
    keep = n > 0
    T = min(rate.shape[-1], mean.shape[-1])
    rate, mean, keep = rate[..., :T], mean[..., :T], keep[..., :T]
    loss = rate - mean * torch.log(rate + 1e-6)
    return loss[keep].mean()


def load_chimera(aa1_path: str, ns1_path: str, lazy: bool):
    """AA1 at 5 ms and 34 bands (recomputed from its waveforms) + NS1 as stored (5 ms, 34 bands)."""
    aa1 = strfh5.load(aa1_path, lazy=lazy, dt_ms=DT_MS, n_bands=N_BANDS)
    ns1 = strfh5.load(ns1_path, lazy=lazy, dt_ms=DT_MS)
    print(f"aa1: {aa1}  F={aa1.F}")
    print(f"ns1: {ns1}  F={ns1.F}")
    chimera = aa1 + ns1
    print(f"chimera: {chimera}  ({aa1.N_neurons} finch + {ns1.N_neurons} ferret neurons, "
          f"{aa1.get_S()} + {ns1.get_S()} stimuli)")
    return chimera


def train(ds, steps: int, workers: int = 0, seed: int = 0) -> list[float]:
    """A few optimisation steps of :class:`LinearNonlinear` on ``ds``; the losses."""
    torch.manual_seed(seed)
    ds.select_population(list(range(ds.N_neurons)))
    model = LinearNonlinear(ds.N_neurons, ds.F)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    loader = DataLoader(ds, batch_size=4, shuffle=True, num_workers=workers, collate_fn=strfh5.neural_collate,
                        generator=torch.Generator().manual_seed(seed))
    losses: list[float] = []
    while len(losses) < steps:
        for batch in loader:
            loss = masked_poisson_loss(model(batch["stims"]), batch["responses"])
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
            if len(losses) == steps:
                break
    return losses


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("aa1", help="a CRCNS AA1 file converted with its waveforms (strfh5 convert crcns-aa1)")
    ap.add_argument("ns1", help="an NS1 file (strfh5 convert ns1)")
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--workers", type=int, default=0, help="DataLoader workers for the lazy run")
    args = ap.parse_args(argv)
    out = {}
    for lazy in (False, True):
        print(f"--- {'lazy' if lazy else 'eager'} ---")
        ds = load_chimera(args.aa1, args.ns1, lazy)
        losses = train(ds, args.steps, workers=args.workers if lazy else 0)
        print("losses: " + ", ".join(f"{x:.4f}" for x in losses))
        out["lazy" if lazy else "eager"] = losses
        ds.close()
    return out


if __name__ == "__main__":
    main()
