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
from .contents import Contents, FileContents
from .errors import InvalidDataError, TransformError
from .records import RawRow
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
    return write_contents(contents, path, rows=_rows_in_memory(dataset, contents), overwrite=overwrite,
                          stims=_stims_in_memory(dataset, contents))


def _stims_in_memory(dataset, contents: Contents):
    """``s -> stimulus`` from an eager dataset read on the file's own grid, where it equals the stored array.

    A held stimulus is used when the file's stimulus was read as float32 of the
    same shape (so the held float32 copy is exact); otherwise it is read again.
    """
    rows = getattr(dataset, "_rows", None)
    grid = getattr(dataset, "grid", None)
    seen = getattr(contents, "stim_seen", None)
    if rows is None or getattr(rows, "lazy", True) or grid is None or not grid.is_identity or grid.needs_waveform \
            or not seen or not hasattr(rows, "stims"):
        return None
    f32 = np.dtype(np.float32)

    def stim(s: int):
        held, kind = rows.stims[s], seen.get(s)
        if kind is not None and kind[0] == f32 and hasattr(held, "numpy") and str(held.dtype) == "torch.float32" \
                and tuple(held.shape) == tuple(kind[1]):
            return held.numpy()
        return contents.stim(s)

    return stim


def _rows_in_memory(dataset, contents: Contents):
    """``s -> row`` from an eager dataset's blocks when they hold the stored values, else None.

    Binned files read eagerly at the file's own bin width hold every stored
    value in memory (float32, or uint8 as stored); saving them avoids reading
    the source again. The row is cast back to the stored dtype once (exact:
    the values came from it; no copy when held as stored) and handed to the
    writer whole, as a :class:`~strfh5.records.RawRow`.
    """
    rows = getattr(dataset, "_rows", None)
    grid = getattr(dataset, "grid", None)
    info = contents.info
    if rows is None or getattr(rows, "lazy", True) or grid is None or not grid.is_identity \
            or info.encoding != L.ENCODING_BINNED or not hasattr(rows, "responses"):
        return None
    dtype = contents.stored_dtype()

    def row(s: int):
        held = _held(rows.responses[s])
        if held is None:  # an element was replaced by the user: the contents are the truth
            return contents.row(s)
        data, reps = held
        return RawRow(np.asarray(reps, dtype=np.int64), data.numpy().reshape(-1).astype(dtype, copy=False))

    return row


def _held(r):
    """``(data, reps)`` of an eager row as it is held — a compact uint8 row stays uint8 (``compact``, not
    converted to float32 by reading it) — or None when an element was replaced or the row is not a
    :class:`~strfh5.rows.ResponseRow`."""
    get = getattr(r, "compact", None)
    return get() if callable(get) else None


def _count_dtype(contents: Contents):
    """The stored unsigned type of a plain file's integer data (None: chosen by the writer at close)."""
    info = contents.info
    if contents.path is None or info.concatenated or not hasattr(contents, "count_dtype"):
        return None
    return contents.count_dtype()


def write_contents(contents: Contents, path, rows=None, *, progress: bool | None = False,
                   progress_desc: str | None = None, stims=None, **writer_kwargs) -> str:
    """Stream ``contents`` (in memory or another file) into a new file, row by row.

    ``rows`` (``s -> row``, optional) supplies the rows instead of
    ``contents.row``, ``stims`` (``s -> array``) the stimuli instead of
    ``contents.stim``. ``writer_kwargs`` override the :class:`StreamWriter`
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
    whole = isinstance(contents, FileContents)  # rows the reader checked against /repeats: written whole (RawRow)
    steps = tqdm(range(contents.S), desc=progress_desc or os.path.basename(os.fspath(path)), unit="stim", leave=False,
                 disable=None if progress is None else not progress)
    stim = stims or contents.stim
    with w:
        for s in steps:
            if info.stim_kind == L.STIM_WAVEFORM:
                w.add_stimulus(stim(s), id=contents.stim_ids[s], meta=contents.stim_meta[s],
                               n_bins=int(contents.n_bins[s]), sample_rate=contents.stim_sample_rate(s))
            else:
                wf = contents.waveform(s)
                w.add_stimulus(stim(s), id=contents.stim_ids[s], meta=contents.stim_meta[s],
                               waveform=None if wf is None else wf[0], sample_rate=None if wf is None else wf[1])
            w.write_row(s, rows(s) if rows is not None else contents.raw_row(s) if whole else contents.row(s))
    return w.path
