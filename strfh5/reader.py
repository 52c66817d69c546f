"""Where datasets come from: :func:`load` (a file), :func:`from_lists` (deepSTRF lists), contents.

Each returns the dataset class of the content's modality —
:class:`~strfh5.dataset.AudioNeuralDataset` or
:class:`~strfh5.video.VideoNeuralDataset` — through
:func:`dataset_from_contents`.
"""

from __future__ import annotations

from . import layout as L
from .build import contents_from_lists
from .contents import Contents, FileContents
from .dataset import AudioNeuralDataset, NeuralDataset
from .subsetting import filter_contents
from .video import VideoNeuralDataset

__all__ = ["load", "from_lists", "dataset_from_contents"]


def dataset_from_contents(contents: Contents, lazy: bool = False, dt_ms=None, window_ms=None,
                          spectrogram=None) -> NeuralDataset:
    """The dataset class of ``contents``'s modality (audio or video) over ``contents``.

    ``spectrogram`` is ``{load argument: value}`` (see :func:`load`).
    """
    cls = VideoNeuralDataset if contents.info.modality == L.MODALITY_VIDEO else AudioNeuralDataset
    if spectrogram and any(v is not None for v in spectrogram.values()):
        return cls(contents, lazy=lazy, dt_ms=dt_ms, window_ms=window_ms, spectrogram=spectrogram)
    return cls(contents, lazy=lazy, dt_ms=dt_ms, window_ms=window_ms)


def load(path, lazy: bool = False, dt_ms=None, window_ms=None, allow_external: bool = False, *, n_bands=None,
         f_min=None, f_max=None, spec_window_ms=None, compression=None, spec_kind=None, areas=None, stimuli=None,
         subset=None) -> NeuralDataset:
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
    n_bands, f_min, f_max, spec_window_ms, compression, spec_kind : optional
        Spectrogram parameters (the fields ``n_bands``, ``f_min``, ``f_max``,
        ``window_ms``, ``compression`` and ``kind`` of the file's
        ``/stimuli@transform``; the analysis window is ``spec_window_ms``
        because ``window_ms`` is the response window).  When one differs
        from the stored value, every spectrogram is recomputed from its kept
        waveform with the file's recipe (:mod:`strfh5.spectrogram`) and these
        parameters, at ``dt_ms`` — at load (eager) or per item (lazy).
        ``F`` is then ``n_bands`` and ``transforms`` records a
        ``spectrogram`` entry with the recomputed transform.
    areas, stimuli, subset : optional
        deepSTRF's constructor filters: keep the neurons whose
        ``nrn_meta['area']`` is in ``areas``, the stimuli whose
        ``stim_meta['type']`` is in ``stimuli`` and (NAT4) whose
        ``stim_meta['subset']`` is ``subset`` (``'all'`` keeps all). Each is
        a value or a sequence of values; stimuli and neurons left without a
        recorded pair are dropped (see :func:`strfh5.subsetting.filter_contents`).

    Returns
    -------
    AudioNeuralDataset or VideoNeuralDataset

    Raises
    ------
    FileNotFoundError, strfh5.errors.FileFormatError
        The path does not exist or is not a readable strfh5 file.
    strfh5.errors.BinningError
        ``dt_ms`` / ``window_ms`` the file cannot be read at; spectrogram
        parameters on a file whose stimuli keep no waveform (the message
        names ``--keep-waveform``) or are not spectrograms.
    strfh5.errors.SpectrogramError
        A spectrogram parameter the recipe refuses (``n_bands=0``, ``f_max``
        above Nyquist, ...).
        ``dt_ms`` / ``window_ms`` the file cannot be read at — also when lazy:
        the first stimulus is read at open, so an impossible ``dt_ms`` (a
        spectrogram file without waveforms, video frames that cannot be
        pooled or repeated) fails here, not at the first item.
    strfh5.errors.SelectionError
        A filter that matches no record (the message lists the values present).

    Examples
    --------
    >>> ds = strfh5.load("demo.strf.h5", dt_ms=10)
    >>> ds.dt, tuple(ds.stims[0].shape)
    (10, (1, 32, 60))
    >>> len(ds.select_pop_by_nrn_attr("area", "A1"))
    10
    >>> strfh5.load("demo.strf.h5", dt_ms=10, n_bands=20).F   # spectrograms recomputed from the waveforms
    20
    >>> with strfh5.load("demo.strf.h5", lazy=True) as ds:
    ...     item = ds[0]
    """
    # eager: every record decoded now. Eager and lazy loads check the heap objects of exactly what they read
    # (h5io.heaps: attributes, tables, each row read through HDF5; rows read through the response index are
    # verified there), so no whole-file heap scan is needed (SPEC 1.1 §12.1 item 4)
    contents = FileContents(path, allow_external=allow_external, lazy_meta=lazy)
    try:
        contents = filter_contents(contents, areas=areas, stimuli=stimuli, subset=subset)
        spec = dict(n_bands=n_bands, f_min=f_min, f_max=f_max, spec_window_ms=spec_window_ms,
                    compression=compression, spec_kind=spec_kind)
        ds = dataset_from_contents(contents, lazy=lazy, dt_ms=dt_ms, window_ms=window_ms, spectrogram=spec)
        if lazy and ds.get_S():
            ds.stims[0]  # an impossible dt_ms fails at open, as it does for an eager load
    except BaseException:
        contents.close()
        raise
    if not lazy:
        contents.close()
    return ds


def from_lists(stims, responses=None, **kwargs):
    """Build an in-memory dataset from the deepSTRF paradigm lists.

    Parameters
    ----------
    stims : list of S arrays/tensors
        ``(1, F, T_s)`` spectrograms, ``(1, T_audio_s)`` waveforms or
        ``(1, H, W, T_s)`` videos (time last).
    responses : list of S lists of N, optional
        Binned responses: ``responses[s][n]`` an ``(R, T_s)`` array of spike
        counts (or of a continuous signal with ``response_kind='continuous'``),
        or None when neuron n did not hear stimulus s.
    spike_times : list of S lists of N, optional
        Events: ``spike_times[s][n]`` a list of R 1-D arrays of spike times in
        ms from stimulus onset, or None.  Exactly one of ``responses`` and
        ``spike_times`` is given.
    dt_ms : float
        Bin width of the responses / stimulus frames, in ms.
    stim_meta, nrn_meta : list of dict, optional
    stim_ids, neuron_ids : list of str, optional
        Stable ids.  By default a unique metadata key gives them
        (``cell_id``, ``unit_id``, ``neuron_id`` or ``id`` for neurons;
        ``stim_id``, ``name`` or ``id`` for stimuli), else the positions
        prefixed by a tag from the dataset's UUID (``"1f0c2a9e.0"``, ...), so
        datasets built separately concatenate without duplicate ids (see
        :func:`strfh5.build.default_ids`).
    stim_kind : str, optional
        Inferred from the stimulus axes when omitted.
    n_bins, sample_rates : list, optional
        Response bins and sample rate of each stimulus; required for waveforms.
    waveforms : list of (array, sample_rate) or None, optional
        Source waveforms kept beside spectrograms.
    response_kind, file_meta, source, schemas, transform
        As for :class:`strfh5.StreamWriter`.

    Returns
    -------
    NeuralDataset
        An eager dataset (``AudioNeuralDataset`` / ``VideoNeuralDataset``).

    Examples
    --------
    >>> import numpy as np, strfh5
    >>> ds = strfh5.from_lists(stims=[np.zeros((1, 4, 10), np.float32)],
    ...                        responses=[[np.ones((2, 10)), None]], dt_ms=5)
    >>> ds.get_S(), ds.get_N(), ds.nrn_masks.tolist()
    (1, 2, [[True, False]])
    """
    return dataset_from_contents(contents_from_lists(stims, responses, **kwargs))
