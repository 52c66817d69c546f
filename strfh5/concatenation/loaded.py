"""A dataset's loaded state seen as raw contents: :class:`LoadedContents`.

In memory, concatenation requires what deepSTRF requires — equal loaded ``dt``
and ``F`` (or ``(C, H, W)``) and compatible kinds — whatever the files store
(seed 002).  When the inputs' stored facts agree too (same encoding, stored
``dt_ms``, stimulus dimensions, nothing recomputed at load),
:func:`~strfh5.concatenation.memory.concat_neural_datasets` concatenates their
raw contents, so :func:`strfh5.save` writes e.g. spike times again.  When they
do not (an events file read at 5 ms with a binned one stored at 5 ms, a 1 ms
file read at 5 ms with a 5 ms file, spectrograms recomputed at load), each
input is wrapped in a :class:`LoadedContents`: the contents *as loaded* —
``binned`` at the loaded ``dt`` (events and binned inputs both become counts
per bin, as they are in memory), stimuli as the dataset hands them out.  A
lazy input stays lazy: rows are read through the dataset on access.

What :func:`strfh5.save` then writes is that loaded state: a ``binned`` file at
the loaded ``dt_ms`` with the loaded stimuli (counts as integers, continuous
signals as float32), the stimulus recipe (``/stimuli@transform``) and kept
waveforms only when the stimuli are exactly the stored ones.
"""

from __future__ import annotations

import numpy as np

from .. import layout as L
from ..contents import Contents
from ..records import FileInfo, RawRow

__all__ = ["LoadedContents", "reads_as_stored", "METHOD_TRANSFORMS"]

#: transform records that methods of a loaded dataset append (carried by an eager concatenation)
METHOD_TRANSFORMS = frozenset({"bin", "rebin", "smooth_responses", "normalize_responses", "standardize_stims",
                               "from_rgb_to_grayscale", "change_spatial_resolution", "concat"})


def _loaded_dims(ds) -> tuple[int, ...]:
    """The non-time axes of the stimuli ``ds`` hands out (from its attributes: nothing is read)."""
    stored = tuple(ds.contents.info.stim_dims)
    if getattr(ds, "H", None) is not None:
        return (int(ds.C), int(ds.H), int(ds.W))
    if getattr(ds, "F", None) is not None and len(stored) > 1:
        return (stored[0], int(ds.F), *stored[2:])
    return stored


def reads_as_stored(ds) -> bool:
    """True when ``ds`` is its stored contents read at ``ds.dt`` / ``ds.window_ms`` and nothing else.

    I.e. its stimulus dimensions are the stored ones and every transform it
    records is one of :data:`METHOD_TRANSFORMS` (a record of anything else
    done at load — a spectrogram recomputed with other parameters — makes it
    False, so the concatenation uses the loaded state).
    """
    if _loaded_dims(ds) != tuple(ds.contents.info.stim_dims):
        return False
    return all(t.get("name") in METHOD_TRANSFORMS for t in ds.transforms)


def _loaded_kind(stored: str) -> str:
    """Spike times are loaded as counts per bin; counts and continuous signals stay what they are."""
    return L.RESPONSE_COUNTS if stored == L.RESPONSE_SPIKE_TIMES else stored


def _identical_stimuli(ds) -> bool:
    return float(ds.dt) == float(ds.file_dt) and ds.window_ms is None and reads_as_stored(ds) and not any(
        t.get("name") in ("standardize_stims", "from_rgb_to_grayscale", "change_spatial_resolution")
        for t in ds.transforms)


class LoadedContents(Contents):
    """The contents of dataset ``ds`` as loaded: ``binned`` at ``ds.dt``, stimuli as ``ds.stims`` gives them.

    Ids, metadata and ``/repeats`` are the dataset's; ``n_bins`` its bins at
    ``dt``; ``raw_row`` returns the dataset's (binned, transformed) rows, so a
    dataset over these contents at their own ``dt`` hands out exactly what
    ``ds`` does.
    """

    def __init__(self, ds):
        self.ds = ds
        stored = ds.contents.info
        self.same_stimuli = _identical_stimuli(ds)
        self.info = FileInfo(
            encoding=L.ENCODING_BINNED, dt_ms=float(ds.dt), stim_kind=stored.stim_kind,
            stim_dims=_loaded_dims(ds), response_kind=_loaded_kind(stored.response_kind), modality=stored.modality,
            uuid=stored.uuid, schemas=dict(stored.schemas or {}), metadata=dict(stored.metadata or {}),
            transform=stored.transform if self.same_stimuli else None)
        self.path = ds.contents.path
        self.stim_ids = list(ds.stim_ids)
        self.neuron_ids = list(ds.neuron_ids)
        self.stim_meta = ds.stim_meta
        self.nrn_meta = ds.nrn_meta
        self.n_bins = np.asarray(ds.n_bins, dtype=np.int64)
        self.repeats = np.asarray(ds.contents.repeats)

    def stim(self, s: int) -> np.ndarray:
        return self.ds.stims[s].detach().cpu().numpy()

    def waveform(self, s: int):
        return self.ds.contents.waveform(s) if self.same_stimuli else None

    def stim_sample_rate(self, s: int):
        return self.ds.contents.stim_sample_rate(s)

    def stored_dtype(self) -> np.dtype:
        return np.dtype(np.float32)

    def raw_row(self, s: int, neurons=None, dtype=None) -> RawRow:
        data, reps = self.ds.row_block(s, None if neurons is None else list(neurons))
        values = data.detach().cpu().numpy().reshape(-1)
        return RawRow(np.asarray(reps, dtype=np.int64), values if dtype is None else values.astype(dtype, copy=False))

    def row(self, s: int, neurons=None) -> list:
        data, reps = self.ds.row_block(s, None if neurons is None else list(neurons))
        a = data.detach().cpu().numpy()
        counts = self.info.response_kind == L.RESPONSE_COUNTS
        out, start = [], 0
        for r in np.asarray(reps).tolist():
            if r == 0:
                out.append(None)
                continue
            el = a[start : start + r]
            out.append(el.astype(np.int64) if counts and np.array_equal(el, np.floor(el)) else el)
            start += r
        return out

    def close(self) -> None:
        self.ds.contents.close()
