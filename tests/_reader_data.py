"""Generated datasets with the shapes of the seed notebooks (reader tests and examples).

Each generator writes a strfh5 file with :class:`strfh5.StreamWriter` (fast,
one row at a time) and returns the path and the facts a test checks against.
Sizes are parameters so tests stay small; the defaults of ``nat4_like`` are the
NAT4-A1 scale of seed 003.
"""

from __future__ import annotations

import numpy as np

import strfh5

AA1_MD5 = "058767E725C83836F405A97FD7D1E751"


def aa_like(path, *, S=30, N=100, F=32, dt_ms=5.0, T_range=(330, 501), R_range=(8, 11), missing=40,
            areas=("Field_L", "MLd"), area_case=None, types=("conspecific", "flatrip"), seed=0,
            prefix="gg", stim_prefix="", rate_hz=20.0, pre_ms=200.0, post_ms=100.0):
    """An events file shaped like CRCNS AA1 (seed 001): S stims, N neurons, ``missing`` absent pairs.

    Neurons are split evenly between ``areas``; stimuli alternate ``types``
    by halves.  Spike times include pre-onset and post-stimulus spikes.
    Returns a dict with ``path``, ``masks`` (S, N bool) and ``spikes``
    (``spikes[s][n]`` list of per-repeat arrays or None).
    """
    rng = np.random.default_rng(seed)
    Ts = rng.integers(T_range[0], T_range[1] + 1, S)
    Ts[0] = T_range[0] + (T_range[1] - T_range[0]) // 3
    masks = np.ones((S, N), bool)
    if missing:
        flat = rng.choice(np.arange(S * N)[N:], size=missing, replace=False)  # keep stim 0 complete
        masks.reshape(-1)[flat] = False
    nrn_meta, neuron_ids = [], []
    for n in range(N):
        area = areas[(n * len(areas)) // N]
        animal = f"{prefix}{300 + n // 10:04d}"
        cell = f"{animal}_{n % 10 + 1}_B"
        nrn_meta.append({"cell_id": cell, "animal_id": animal, "area": area})
        neuron_ids.append(cell)
    stim_meta = []
    for s in range(S):
        typ = types[(s * len(types)) // S]
        stim_meta.append({"name": f"{stim_prefix}{rng.integers(0, 2**63):016X}{s:016X}.wav", "type": typ,
                          "sample_rate": 32000.0, "n_samples": int(Ts[s] * dt_ms * 32), "duration_s": float(Ts[s] * dt_ms / 1000)})
    w = strfh5.StreamWriter(path, encoding="events", dt_ms=dt_ms, stim_kind="spectrogram", stim_dims=(1, F),
                            neuron_ids=neuron_ids, nrn_meta=nrn_meta, overwrite=True,
                            transform={"kind": "mel", "n_bands": F, "hop_ms": dt_ms})
    spikes = []
    with w:
        for s in range(S):
            T = int(Ts[s])
            w.add_stimulus(rng.random((1, F, T), dtype=np.float32), id=f"stim{s:03d}", meta=stim_meta[s])
            row, keep = [], []
            for n in range(N):
                if not masks[s, n]:
                    row.append(None)
                    keep.append(None)
                    continue
                R = int(rng.integers(R_range[0], R_range[1]))
                lo, hi = -pre_ms, T * dt_ms + post_ms
                trials = []
                for _ in range(R):
                    k = rng.poisson(rate_hz * (hi - lo) / 1000)
                    trials.append(np.sort(rng.uniform(lo, hi, k)))
                row.append(trials)
                keep.append(trials)
            w.write_row(s, row)
            spikes.append(keep)
    return {"path": str(path), "masks": masks, "spikes": spikes, "n_bins": Ts, "nrn_meta": nrn_meta,
            "stim_meta": stim_meta}


def nat4_like(path, *, n_est=575, n_val=18, N=849, no_val=33, T=150, F=18, R_val=20, n_auditory=777,
              animals=(("ARM", 165), ("CRD", 36), ("DRX", 244), ("TNC", 404)), seed=0, continuous=False,
              area="A1"):
    """A binned file shaped like NAT4 A1 (seed 003): est stims R=1, val stims R=20, neurons without val data.

    The first ``no_val`` neurons of each animal block in turn lack val data
    (``no_val`` in all); ``n_auditory`` neurons are auditory.  Returns a dict
    with ``path``, ``masks``, ``val`` (val stim indices), ``has_val`` (N,),
    ``auditory`` (N,) and ``nrn_meta``.
    """
    rng = np.random.default_rng(seed)
    S = n_est + n_val
    # val stims interleaved at the end like NAT4's ordering (est first, val last)
    subset = ["est"] * n_est + ["val"] * n_val
    counts = [c for _, c in animals]
    scale = N / sum(counts)
    sizes = [int(round(c * scale)) for c in counts]
    sizes[-1] = N - sum(sizes[:-1])
    nrn_meta = []
    for (animal, _), size in zip(animals, sizes):
        for j in range(size):
            site = f"{animal}{(j // 30) + 1:03d}{'a' if area == 'A1' else 'b'}"
            el, unit = (j % 30) + 1, (j % 3) + 1
            nrn_meta.append({"cell_id": f"{site}-{el:02d}-{unit}-{j}", "area": area, "auditory": True,
                             "site": site, "animal": animal, "electrode": el, "unit_in_electrode": unit})
    aud = np.ones(N, bool)
    aud[rng.choice(N, N - n_auditory, replace=False)] = False
    for n in range(N):
        nrn_meta[n]["auditory"] = bool(aud[n])
    has_val = np.ones(N, bool)
    has_val[rng.choice(N, no_val, replace=False)] = False
    masks = np.ones((S, N), bool)
    val = np.arange(n_est, S)
    masks[np.ix_(val, np.flatnonzero(~has_val))] = False
    kind = "continuous" if continuous else "counts"
    w = strfh5.StreamWriter(path, encoding="binned", dt_ms=10.0, stim_kind="spectrogram", stim_dims=(1, F),
                            nrn_meta=nrn_meta, neuron_ids=[m["cell_id"] for m in nrn_meta], overwrite=True,
                            response_kind=kind, count_dtype=None if continuous else np.uint8,
                            transform={"kind": "ozgf", "n_bands": F, "hop_ms": 10.0})
    with w:
        for s in range(S):
            w.add_stimulus(rng.random((1, F, T), dtype=np.float32), id=f"STIM_{s:04d}",
                           meta={"name": f"STIM_{s:04d}_{subset[s]}.wav", "subset": subset[s]})
            R = R_val if subset[s] == "val" else 1
            if continuous:
                block = rng.normal(size=(N, R, T)).astype(np.float32)
            else:
                block = rng.poisson(0.3, size=(N, R, T)).astype(np.uint8)
            w.write_row(s, [block[n] if masks[s, n] else None for n in range(N)])
    return {"path": str(path), "masks": masks, "val": val, "has_val": has_val, "auditory": aud,
            "nrn_meta": nrn_meta}
