"""A self-contained copy of a (concatenated) strfh5 file: :func:`materialize`."""

from __future__ import annotations

import os
import uuid as _uuid

import h5py

from .. import layout as L
from ..contents import FileContents
from ..errors import InvalidDataError
from ..saving import write_contents

__all__ = ["materialize"]


def materialize(path, out, *, overwrite: bool = False, allow_external: bool = False,
                progress: bool | None = None) -> str:
    """Write a self-contained copy of a (concatenated) strfh5 file.

    Responses and stimuli are copied row by row through
    :class:`strfh5.StreamWriter` (memory bounded by one row), so the copy has
    real datasets, row digests and no links: it can be sent to another lab.
    For a concatenated file, ``/sources`` is kept as provenance (the copy is
    not marked concatenated, so readers never resolve it), which also tells
    validators the blocks within which ids are unique.

    Parameters
    ----------
    path : str or os.PathLike
        A strfh5 file (normally concatenated).
    out : str or os.PathLike
        The copy to write.
    overwrite, allow_external : bool
        Replace ``out``; accept sources outside the input's folder.
    progress : bool, optional
        A tqdm bar per stimulus row on stderr: True always, False never, None
        (default) when stderr is a terminal.

    Returns
    -------
    str
        The path written.
    """
    path, out = os.fspath(path), os.fspath(out)
    if os.path.exists(out) and not overwrite:
        raise FileExistsError(f"{out} exists (pass overwrite=True to replace it)")
    if os.path.abspath(out) == os.path.abspath(path):
        raise InvalidDataError(f"{out}: materialize cannot overwrite its input")
    contents = FileContents(path, allow_external=allow_external, scan_heaps=True)
    part = f"{out}.part-{_uuid.uuid4().hex[:12]}"
    try:
        info = contents.info
        meta = dict(info.metadata)
        meta["materialized_from"] = {"uuid": info.uuid, "file": os.path.basename(path)}
        write_contents(contents, part, file_meta=meta, schemas=info.schemas, allow_duplicate_ids=True,
                       progress=progress, progress_desc=f"materialize {os.path.basename(out)}")
        if info.concatenated:
            src = contents.handle.file
            with h5py.File(part, "a") as f:
                g = f.create_group(L.SOURCES)
                for name in ("paths", "uuids", "stim_offsets", "stim_rows", "neuron_offsets"):
                    src.copy(src[f"{L.SOURCES}/{name}"], g, name=name)
        with open(part, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(part, out)
        part = None
    finally:
        contents.close()
        if part is not None and os.path.exists(part):
            os.remove(part)
    return out
