"""Writing the response byte-range index ``/index`` of a file (SPEC §7.2).

:class:`strfh5.StreamWriter` calls :func:`add_index` on its temporary file
after everything else is written (the payload addresses exist only then);
``strfh5 index FILE`` calls it on existing files.
"""

from __future__ import annotations

import os

from . import layout as L
from .errors import IndexBuildError
from .h5io import open_file
from .h5io.index import locate_payloads

__all__ = ["add_index"]


def add_index(path) -> str:
    """Add (or rebuild) the response byte-range index ``/index`` of an existing plain file.

    The payload addresses are found after the data are written: the VLEN
    descriptors in the raw chunks of ``/responses`` (and ``/counts``) point
    at global heap objects whose addresses and sizes are read from the heap
    collections themselves (:func:`strfh5.h5io.index.locate_payloads`).
    The tables are stored contiguous and unfiltered so readers can memory-map
    them. Returns the path.

    Raises
    ------
    IndexBuildError
        A concatenated file (its rows live in the sources) or VLEN data
        stored through filters.
    """
    path = os.fspath(path)
    f = open_file(path, mode="r+")
    try:
        if f.attrs.get(L.ATTR_CONCATENATED, False):
            raise IndexBuildError(f"{path}: a concatenated file's rows live in its sources; index the sources "
                                  "(or materialize the file first)")
        names = [(L.RESPONSES, L.RESPONSE_INDEX_RESPONSES)]
        if L.COUNTS in f:
            names.append((L.COUNTS, L.RESPONSE_INDEX_COUNTS))
        tables = {iname: locate_payloads(f, name, path) for name, iname in names}
        if L.RESPONSE_INDEX in f:
            del f[L.RESPONSE_INDEX]
        g = f.create_group(L.RESPONSE_INDEX)
        g.attrs[L.ATTR_INDEX_LAYOUT] = L.INDEX_LAYOUT
        for iname, table in tables.items():
            ds = f.create_dataset(iname, shape=table.shape, dtype="<u8")
            if table.size:
                ds[...] = table
    finally:
        f.close()
    return path
