"""Writing whole datasets and contents to a file: :func:`save` and :func:`write_contents`.

Both stream row by row through :class:`~strfh5.writer.StreamWriter` (memory
bounded by one row), passing the stored types on and, for an eager dataset
read at its file's own bin width, the rows it already holds.
"""

from __future__ import annotations

import os

import numpy as np
from tqdm.auto import tqdm

from . import layout as L
from .contents import Contents
from .errors import InvalidDataError, TransformError
from .writer import StreamWriter

__all__ = ["save", "write_contents"]


def save(dataset, path, *, overwrite: bool = False) -> str:
    """Write a dataset (or its :class:`~strfh5.contents.Contents`) to ``path``.

    The raw contents are written — spike times for events files, the stored
    counts or signals for binned ones — together with all metadata. A dataset
    with reader-side transforms applied (binning aside) is refused: strfh5
    files hold raw data, so save the dataset before transforming it.

    Returns the path written.
    """
    contents: Contents = getattr(dataset, "contents", dataset)
    if not isinstance(contents, Contents):
        raise InvalidDataError(
            f"save() needs a strfh5 dataset or Contents, got {type(dataset).__name__}"
        )
    applied = [t for t in getattr(dataset, "transforms", ()) if t.get("name") not in ("bin", "rebin")]
    if applied:
        names = ", ".join(t.get("name", "?") for t in applied)
        raise TransformError(
            f"cannot save {path}: the dataset has reader-side transforms applied ({names}); strfh5 files hold "
            "raw data — save the untransformed dataset (the transforms are reapplied at load)"
        )
    return write_contents(contents, path, rows=_rows_in_memory(dataset, contents), overwrite=overwrite)


def _rows_in_memory(dataset, contents: Contents):
    """``s -> row`` from an eager dataset's blocks when they hold the stored values, else None.

    Binned files read eagerly at the file's own bin width hold every stored
    value in memory (float32); saving them avoids reading the source again.
    The row is cast back to the stored dtype once (exact: the values came from
    it) and split into the per-neuron elements.
    """
    rows = getattr(dataset, "_rows", None)
    grid = getattr(dataset, "grid", None)
    info = contents.info
    if rows is None or getattr(rows, "lazy", True) or grid is None or not grid.is_identity \
            or info.encoding != L.ENCODING_BINNED or not hasattr(rows, "responses"):
        return None
    dtype = contents.stored_dtype()

    def row(s: int):
        r = rows.responses[s]
        block = r.block() if hasattr(r, "block") else None
        if block is None:  # an element was replaced by the user: the contents are the truth
            return contents.row(s)
        data, reps = block
        values = data.numpy().astype(dtype)
        parts = np.split(values, np.cumsum(reps)[:-1]) if reps.size else []
        return [p if r else None for p, r in zip(parts, reps.tolist())]

    return row


def _count_dtype(contents: Contents):
    """The stored unsigned type of a plain file's integer data (None: chosen by the writer at close)."""
    info = contents.info
    if contents.path is None or info.concatenated or not hasattr(contents, "count_dtype"):
        return None
    return contents.count_dtype()


def write_contents(contents: Contents, path, rows=None, *, progress: bool | None = False,
                   progress_desc: str | None = None, **writer_kwargs) -> str:
    """Stream ``contents`` (in memory or another file) into a new file, row by row.

    ``rows`` (``s -> row``, optional) supplies the rows instead of
    ``contents.row``. ``writer_kwargs`` override the :class:`StreamWriter`
    arguments taken from the contents (e.g. ``file_meta``, ``overwrite``);
    the stored types of a plain file are passed on, so integer data need no
    scratch copy. ``progress``: a tqdm bar per stimulus row on stderr (True
    always, None when stderr is a terminal, False never), labelled
    ``progress_desc`` (the file name by default). Returns the path written.
    """
    info = contents.info
    kwargs = dict(
        encoding=info.encoding,
        dt_ms=info.dt_ms,
        stim_kind=info.stim_kind,
        stim_dims=info.stim_dims,
        neuron_ids=contents.neuron_ids,
        nrn_meta=contents.nrn_meta,
        file_meta=info.metadata,
        schemas=info.schemas or None,
        response_kind=info.response_kind,
        transform=info.transform,
        time_dtype=contents.stored_dtype() if info.encoding == L.ENCODING_EVENTS else np.float64,
        count_dtype=_count_dtype(contents),
    )
    kwargs.update(writer_kwargs)
    w = StreamWriter(path, **kwargs)
    steps = tqdm(range(contents.S), desc=progress_desc or os.path.basename(os.fspath(path)), unit="stim", leave=False,
                 disable=None if progress is None else not progress)
    with w:
        for s in steps:
            if info.stim_kind == L.STIM_WAVEFORM:
                w.add_stimulus(contents.stim(s), id=contents.stim_ids[s], meta=contents.stim_meta[s],
                               n_bins=int(contents.n_bins[s]), sample_rate=contents.stim_sample_rate(s))
            else:
                wf = contents.waveform(s)
                w.add_stimulus(contents.stim(s), id=contents.stim_ids[s], meta=contents.stim_meta[s],
                               waveform=None if wf is None else wf[0], sample_rate=None if wf is None else wf[1])
            w.write_row(s, contents.row(s) if rows is None else rows(s))
    return w.path
