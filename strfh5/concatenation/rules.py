"""What concatenation requires of its inputs, in memory and on disk (seed 002, SPEC §9)."""

from __future__ import annotations

from collections import Counter
from typing import Sequence

from .. import layout as L
from ..errors import DuplicateIdError, IncompatibleDatasetsError
from ..records import FileInfo

__all__ = ["check_compatible", "check_duplicate_neurons", "shared_stimulus_ids", "rewrite_command"]


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
            other = j if ev == 0 else 0
            raise IncompatibleDatasetsError(
                f"cannot concatenate {pair}: encodings differ ({a.encoding!r} vs {b.encoding!r}); on disk, files "
                f"are concatenated as stored. Rewrite the events input ({names[ev]}) as counts: "
                f"{rewrite_command(infos[other].dt_ms)} — or load both and concatenate in memory (a + b), "
                "which pools events and binned data")
        for name, va, vb, hint in (
            ("stored dt_ms", a.dt_ms, b.dt_ms, "on disk, files are concatenated as stored: rewrite one at the "
             f"other's bin width ({rewrite_command(max(a.dt_ms, b.dt_ms))} on the finer one, or both at a common "
             "dt) — or load both at one dt_ms and concatenate in memory (a + b)"),
            ("stim_kind", a.stim_kind, b.stim_kind, "the stimuli must be of one kind"),
            ("stim_dims", a.stim_dims, b.stim_dims,
             "the stimuli must share channels and F (spectrograms) or (H, W) (video): rewrite one file with the "
             "other's band count (strfh5 rewrite IN -o OUT --n-bands F), or load it with that band count and "
             "concatenate in memory — strfh5 does not resample silently"),
            ("response_kind", a.response_kind, b.response_kind, "counts and continuous signals cannot be pooled"),
        ):
            if va != vb:
                raise IncompatibleDatasetsError(f"cannot concatenate {pair}: {name} differs ({va!r} vs {vb!r}); {hint}")


def rewrite_command(dt_ms: float) -> str:
    """The ``strfh5 rewrite`` command line that makes a file concatenable with one binned at ``dt_ms``."""
    return f"strfh5 rewrite IN -o OUT --dt-ms {float(dt_ms):g} --encoding binned"


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
