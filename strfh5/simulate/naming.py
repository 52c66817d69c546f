"""Names and ids of simulated stimuli and neurons, unique across simulated files.

Every id carries the file's *tag*, ``<preset>.s<seed>`` (``sim.s<seed>``
without a preset), so files simulated from different presets or seeds can be
concatenated without a :class:`~strfh5.errors.DuplicateIdError` and never
claim to share a stimulus they do not share, while the same preset and seed
give the same ids (the same file twice is still refused).  The rest of an id
follows the release the ``naming`` style imitates:

=========  ==========================================  ===================================
naming     stimulus id (name = id + ``.wav``)           neuron id (= ``cell_id``)
=========  ==========================================  ===================================
generic    ``<tag>.<type>_<s>`` (name ``<type>_<s>``)   ``<tag>.<animal>-site<k>-e<el>-u<u>``
crcns      32 hex digits (MD5 of tag and index)        ``<tag>.<animal><k>_<n>_<A|B>``
nat4       ``STIM_<tag>_<s>_<type>_<subset>``          ``<tag>.<ANIMAL><kkk><a|b|c>-<el>-<u>``
=========  ==========================================  ===================================
"""

from __future__ import annotations

import hashlib
from typing import Sequence

#: the naming styles
NAMINGS = ("generic", "crcns", "nat4")


def file_tag(preset: str | None, seed: int) -> str:
    """``<preset>.s<seed>`` (``sim.s<seed>`` without a preset): what makes a simulated file's ids its own."""
    return f"{preset or 'sim'}.s{int(seed)}"


def stimulus_names(naming: str, tag: str, types: Sequence[str], subsets: Sequence[str]) -> tuple[list, list]:
    """``(names, ids)`` of the stimuli: sound file names (``stim_meta['name']``) and stimulus ids."""
    S = len(types)
    if naming == "crcns":
        names = [hashlib.md5(f"strfh5-sim-{tag}-{s}".encode()).hexdigest().upper() + ".wav" for s in range(S)]
        return names, [x[:-4] for x in names]
    if naming == "nat4":
        names = [f"STIM_{tag}_{s:04d}_{types[s]}_{subsets[s]}.wav" for s in range(S)]
        return names, [x[:-4] for x in names]
    names = [f"{types[s]}_{s:04d}.wav" for s in range(S)]
    return names, [f"{tag}.{types[s]}_{s:04d}" for s in range(S)]


def site_name(naming: str, animal: str, site_num: int) -> str:
    """The recording site label (``nrn_meta['site']``) of site ``site_num`` (from 1) of ``animal``."""
    if naming == "nat4":
        return f"{animal}{site_num:03d}{'abc'[site_num % 3]}"
    if naming == "crcns":
        return f"{animal.lower()}{site_num:02d}"
    return f"{animal}-site{site_num}"


def cell_id(naming: str, tag: str, site: str, n: int, electrode: int, unit: int) -> str:
    """The id of neuron ``n``: unit ``unit`` on ``electrode`` at ``site``, prefixed by the file's tag."""
    if naming == "nat4":
        return f"{tag}.{site}-{electrode:02d}-{unit}"
    if naming == "crcns":
        return f"{tag}.{site}_{n + 1}_{'AB'[unit % 2]}"
    return f"{tag}.{site}-e{electrode:02d}-u{unit}"


def unique_ids(ids: Sequence[str]) -> list[str]:
    """``ids`` unchanged when they are unique, else each suffixed ``#<index>`` (a safety net: the styles
    above are unique within a file except for animal labels that differ only in case under ``crcns``)."""
    if len(set(ids)) == len(ids):
        return list(ids)
    return [f"{x}#{n}" for n, x in enumerate(ids)]
