"""Updating the metadata records of an existing file in place (SPEC §6, §8).

Metadata are small JSON records, so adding derived values to them (e.g. the
per-neuron quality of :mod:`strfh5.quality`) rewrites the record tables in
place instead of copying the file.  Every updated record is checked against the
schemas the file names before anything is written.  A concatenated file's
records are copies of its sources' and are refused.
"""

from __future__ import annotations

import os
from typing import Any, Sequence

import numpy as np

from . import layout as L
from . import schema as _schema
from .errors import MetadataError
from .h5io import open_file, read_info, read_json_table

__all__ = ["check_writable", "update_metadata"]


def check_writable(path, *, what: str = "updating metadata") -> None:
    """Refuse a concatenated file before a long computation whose result would be written into it."""
    path = os.fspath(path)
    with open_file(path) as f:
        concatenated = read_info(f, path).concatenated
    if concatenated:
        raise MetadataError(
            f"{path}: is a concatenated file (its neuron metadata are copies of its sources'); {what} refuses "
            "it: update each source file, then concatenate again")


def update_metadata(path, neuron_updates: Sequence[dict[str, Any]] | None = None,
                    file_updates: dict[str, Any] | None = None) -> None:
    """Merge ``neuron_updates[n]`` into neuron ``n``'s record and ``file_updates`` into ``/metadata``.

    Raises
    ------
    MetadataError
        The file is concatenated, the number of updates differs from N, or an
        updated record breaks the file's schemas (nothing is written then).
    """
    path = os.fspath(path)
    check_writable(path)
    with open_file(path) as f:
        info = read_info(f, path)
        records = read_json_table(f[L.NEURON_METADATA], f"{path}:/{L.NEURON_METADATA}")
    new_texts = None
    if neuron_updates is not None:
        if len(neuron_updates) != len(records):
            raise MetadataError(f"{path}: /{L.NEURON_METADATA} has {len(records)} records, got "
                                f"{len(neuron_updates)} updates")
        new_texts = []
        for i, (rec, upd) in enumerate(zip(records, neuron_updates)):
            where = f"{path}: neuron {i} metadata"
            rec = {**rec, **upd}
            _schema.validate_record(rec, info.schemas["neuron"], where)
            new_texts.append(_schema.dumps(rec, where))
    meta_text = None
    if file_updates is not None:
        meta = {**info.metadata, **file_updates}
        _schema.validate_record(meta, info.schemas["file"], f"{path}: file metadata")
        meta_text = _schema.dumps(meta, f"{path}: file metadata")
    with open_file(path, mode="r+") as f:
        if new_texts is not None:
            f[L.NEURON_METADATA][...] = np.array(new_texts, dtype=object)
        if meta_text is not None:
            f[L.METADATA][()] = meta_text
