"""Opening strfh5 files as datasets: :func:`load`."""

from __future__ import annotations

from .contents import FileContents
from .dataset import NeuralDataset, dataset_from_contents

__all__ = ["load"]


def load(path, lazy: bool = False, dt_ms=None, window_ms=None, allow_external: bool = False) -> NeuralDataset:
    """Open a ``*.strf.h5`` file as a :class:`~strfh5.dataset.NeuralDataset`.

    Parameters
    ----------
    path : str or os.PathLike
        The file.
    lazy : bool, default False
        False reads everything into memory (one bulk conversion per stimulus
        row) and closes the file; True reads only the tables and ``/repeats``
        at open and one stimulus row per item.
    dt_ms : float, optional
        Bin width of the responses in ms (the file's ``dt_ms`` by default).
        Events files take any positive width; binned files an integer
        multiple of their dt (see :mod:`strfh5.binning`).
    window_ms : (start, stop), optional
        Response window in ms from stimulus onset (events files only; stop
        None = each stimulus's end); stimuli are zero-padded to it.
    allow_external : bool, default False
        Open a concatenated file whose sources lie outside its folder.

    Returns
    -------
    AudioNeuralDataset or VideoNeuralDataset

    Raises
    ------
    FileNotFoundError, strfh5.errors.FileFormatError
        The path does not exist or is not a readable strfh5 file.
    strfh5.errors.BinningError
        ``dt_ms`` / ``window_ms`` the file cannot be read at.

    Examples
    --------
    >>> ds = strfh5.load("aa1.strf.h5", dt_ms=5)              # doctest: +SKIP
    >>> ds.select_pop_by_nrn_attr("area", "MLd")              # doctest: +SKIP
    >>> with strfh5.load("nat4_a1.strf.h5", lazy=True) as ds:  # doctest: +SKIP
    ...     item = ds[0]
    """
    contents = FileContents(path, allow_external=allow_external)
    try:
        ds = dataset_from_contents(contents, lazy=lazy, dt_ms=dt_ms, window_ms=window_ms)
    except BaseException:
        contents.close()
        raise
    if not lazy:
        contents.close()
    return ds
