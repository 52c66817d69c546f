"""What concatenation requires of its inputs, in memory and on disk (seed 002, SPEC §9)."""

from __future__ import annotations

from collections import Counter
from typing import Sequence

from .. import layout as L
from ..errors import DuplicateIdError, IncompatibleDatasetsError
from ..records import FileInfo

__all__ = ["check_compatible", "check_duplicate_neurons", "shared_stimulus_ids"]


def shared_stimulus_ids(stim_ids: Sequence[str]) -> list[str]:
    """Stimulus ids that occupy more than one row (shared stimuli kept apart), in first-row order."""
    return [sid for sid, c in Counter(stim_ids).items() if c > 1]


def check_compatible(infos: Sequence[FileInfo], names: Sequence[str]) -> None:
    """Refuse inputs that differ in encoding, stored dt, stimulus kind/dims or response kind.

    ``names[i]`` labels input ``i`` in the message (e.g. ``"input 1 (b.strf.h5)"``);
    the first difference from input 0 is reported with both values.
    """
    a = infos[0]
    for j in range(1, len(infos)):
        b = infos[j]
        pair = f"{names[0]} and {names[j]}"
        if a.encoding != b.encoding:
            ev = 0 if a.encoding == L.ENCODING_EVENTS else j
            raise IncompatibleDatasetsError(
                f"cannot concatenate {pair}: encodings differ ({a.encoding!r} vs {b.encoding!r}). Convert the "
                f"events input ({names[ev]}) to binned counts first: bin its spike times at dt_ms = "
                f"{infos[ev].dt_ms:g} and write them with strfh5.StreamWriter(..., encoding='binned')")
        for name, va, vb, hint in (
            ("stored dt_ms", a.dt_ms, b.dt_ms, "strfh5 concatenates stored data: rewrite one file at the other's "
             "dt_ms"),
            ("stim_kind", a.stim_kind, b.stim_kind, "the stimuli must be of one kind"),
            ("stim_dims", a.stim_dims, b.stim_dims,
             "the stimuli must share channels and F (spectrograms) or (H, W) (video): recompute one dataset's "
             "stimuli with the other's parameters — strfh5 does not resample silently"),
            ("response_kind", a.response_kind, b.response_kind, "counts and continuous signals cannot be pooled"),
        ):
            if va != vb:
                raise IncompatibleDatasetsError(f"cannot concatenate {pair}: {name} differs ({va!r} vs {vb!r}); {hint}")


def check_duplicate_neurons(id_lists: Sequence[Sequence[str]], option: str = "allow_duplicate_neurons=True") -> None:
    """Refuse a neuron id present in several inputs, listing the ids and the input positions.

    ``option`` is how the caller accepts duplicates, quoted in the message.
    """
    where: dict[str, list[int]] = {}
    for i, ids in enumerate(id_lists):
        for nid in ids:
            where.setdefault(nid, []).append(i)
    dups = {nid: pos for nid, pos in where.items() if len(pos) > 1}
    if dups:
        items = [f"{nid!r} (inputs {', '.join(map(str, pos))})" for nid, pos in list(dups.items())[:10]]
        more = f" and {len(dups) - 10} more" if len(dups) > 10 else ""
        raise DuplicateIdError(
            "neuron ids appear in more than one input: " + ", ".join(items) + more + ". The same neuron twice "
            f"means a dataset pooled with itself; pass {option} if that is intended")
