"""What strfh5 is measured against, on the same data in the same run.

(a) **deepSTRF in memory** — the data paradigm of deepSTRF's ``NeuralDataset``
    as plain Python objects: ``stims`` (list of float32 tensors ``(1, F, T)``),
    ``responses`` (list of lists of float32 ``(R, T)`` tensors, a ``(1, 1)``
    NaN tensor where a pair was not recorded), ``stim_meta`` and ``nrn_meta``
    (lists of dicts), saved with ``torch.save`` and loaded with ``torch.load``
    (how deepSTRF users cache a preprocessed dataset).
(b) **naive HDF5** — one HDF5 dataset per recorded (stimulus, neuron) pair
    (``/responses/<s>/<n>``, float32 ``(R, T)``), one per stimulus, metadata
    as JSON strings: the layout a first attempt at "put it in HDF5" produces.
(c) **raw h5py rows** — reading every row of ``/responses`` (and ``/counts``
    for events files) of the strfh5 file with h5py and doing nothing else:
    the floor for the strfh5 reader, which must also bin and build tensors.
"""

from __future__ import annotations

import json
import os

import h5py
import numpy as np
import torch

__all__ = ["deepstrf_lists", "save_deepstrf", "load_deepstrf", "write_naive_h5", "load_naive_h5", "raw_rows"]


def deepstrf_lists(ds) -> dict:
    """The deepSTRF in-memory paradigm of an eager dataset: independent tensors per element."""
    stims = [torch.as_tensor(x).clone().float() for x in ds.stims]
    responses = []
    for s in range(ds.get_S()):
        row = ds.responses[s]
        responses.append([r.clone() if ds._masks_np[s, n] else torch.full((1, 1), float("nan"))
                          for n, r in enumerate(row)])
    return {"stims": stims, "responses": responses, "stim_meta": [dict(m) for m in ds.stim_meta],
            "nrn_meta": [dict(m) for m in ds.nrn_meta], "dt": float(ds.dt)}


def save_deepstrf(obj: dict, path: str) -> str:
    """``torch.save`` to ``path`` (through a temporary name, renamed when complete)."""
    tmp = path + ".tmp"
    torch.save(obj, tmp)
    os.replace(tmp, path)
    return path


def load_deepstrf(path: str) -> dict:
    """``torch.load`` of a file written by :func:`save_deepstrf`."""
    return torch.load(path, weights_only=True)


def write_naive_h5(obj: dict, path: str) -> str:
    """One HDF5 dataset per recorded pair (float32, uncompressed), from :func:`deepstrf_lists` output."""
    tmp = path + ".tmp"
    with h5py.File(tmp, "w") as f:
        f.attrs["dt_ms"] = float(obj["dt"])
        f.attrs["n_neurons"] = len(obj["nrn_meta"])
        f["stim_meta"] = np.array([json.dumps(m) for m in obj["stim_meta"]], dtype=h5py.string_dtype())
        f["nrn_meta"] = np.array([json.dumps(m) for m in obj["nrn_meta"]], dtype=h5py.string_dtype())
        gs = f.create_group("stimuli")
        gr = f.create_group("responses")
        for s, (x, row) in enumerate(zip(obj["stims"], obj["responses"])):
            gs.create_dataset(str(s), data=x.numpy())
            g = gr.create_group(str(s))
            for n, r in enumerate(row):
                if r.shape == (1, 1) and bool(torch.isnan(r).all()):
                    continue
                g.create_dataset(str(n), data=r.numpy())
    os.replace(tmp, path)
    return path


def load_naive_h5(path: str) -> dict:
    """Read a :func:`write_naive_h5` file back into the deepSTRF paradigm."""
    with h5py.File(path, "r") as f:
        N = int(f.attrs["n_neurons"])
        stim_meta = [json.loads(x) for x in f["stim_meta"].asstr()[()]]
        nrn_meta = [json.loads(x) for x in f["nrn_meta"].asstr()[()]]
        gs, gr = f["stimuli"], f["responses"]
        stims, responses = [], []
        for s in range(len(stim_meta)):
            stims.append(torch.from_numpy(gs[str(s)][()]))
            g = gr[str(s)]
            row = []
            for n in range(N):
                d = g.get(str(n))
                row.append(torch.full((1, 1), float("nan")) if d is None else torch.from_numpy(d[()]))
            responses.append(row)
        return {"stims": stims, "responses": responses, "stim_meta": stim_meta, "nrn_meta": nrn_meta,
                "dt": float(f.attrs["dt_ms"])}


def raw_rows(path: str) -> int:
    """Read every ``/responses`` row (and ``/counts`` row) with h5py; returns the number of values read."""
    total = 0
    with h5py.File(path, "r") as f:
        names = ["responses"] + (["counts"] if "counts" in f else [])
        dsets = [f[n] for n in names]
        for s in range(dsets[0].shape[0]):
            for d in dsets:
                row = d[s]
                total += sum(map(len, row))
    return total
