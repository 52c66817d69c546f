"""Video datasets and their helpers: grayscale, spatial and temporal resampling, clips.

Stimuli are ``(C, H, W, T)`` tensors (time last).  The tensor functions here
are pure; :class:`VideoNeuralDataset` applies them to every stimulus (at once
when eager, on read when lazy) and records them in ``ds.transforms``.
"""

from __future__ import annotations

import numpy as np
import torch

from . import layout as L
from .arguments import number_argument
from .build import contents_from_lists
from .contents import Contents
from .dataset import AudioNeuralDataset, NeuralDataset
from .errors import TransformError
from .transforms import check_not_applied

__all__ = [
    "VideoNeuralDataset",
    "to_grayscale",
    "resize_frames",
    "change_video_temporal_resolution",
    "split_into_clips",
    "LUMA_WEIGHTS",
]

#: ITU-R BT.601 luma weights for (R, G, B)
LUMA_WEIGHTS = (0.299, 0.587, 0.114)


def _check_video(x: torch.Tensor, what: str) -> None:
    if x.ndim != 4:
        raise TransformError(f"{what}: expected a (C, H, W, T) video, got shape {tuple(x.shape)}")


def check_size(size) -> tuple[int, int]:
    try:
        H, W = (int(v) for v in size)
    except (TypeError, ValueError):
        raise TransformError(f"size must be (H, W) positive integers, got {size!r}") from None
    if H < 1 or W < 1:
        raise TransformError(f"size must be (H, W) positive integers, got {size!r}")
    return H, W


def to_grayscale(x: torch.Tensor) -> torch.Tensor:
    """``(3, H, W, T)`` RGB → ``(1, H, W, T)`` luminance (BT.601 weights)."""
    _check_video(x, "to_grayscale")
    if x.shape[0] != 3:
        raise TransformError(f"to_grayscale: expected 3 (RGB) channels, got {x.shape[0]}")
    w = torch.tensor(LUMA_WEIGHTS, dtype=x.dtype).view(3, 1, 1, 1)
    return (x * w).sum(dim=0, keepdim=True)


def resize_frames(x: torch.Tensor, size, mode: str = "area") -> torch.Tensor:
    """Resample every frame of ``(C, H, W, T)`` to ``size = (H', W')``.

    ``mode`` is passed to :func:`torch.nn.functional.interpolate` (``'area'``
    averages pixels when shrinking; ``'bilinear'``, ``'nearest'``, ...).
    """
    _check_video(x, "resize_frames")
    H, W = check_size(size)
    frames = x.permute(3, 0, 1, 2)  # (T, C, H, W)
    kw = {"align_corners": False} if mode in ("bilinear", "bicubic") else {}
    try:
        out = torch.nn.functional.interpolate(frames, size=(H, W), mode=mode, **kw)
    except (ValueError, NotImplementedError, RuntimeError) as e:
        raise TransformError(f"resize_frames: cannot resample with mode={mode!r} ({e})") from None
    return out.permute(1, 2, 3, 0).contiguous()


def change_video_temporal_resolution(x: torch.Tensor, factor: int) -> torch.Tensor:
    """Pool (``factor > 0``: mean of ``factor`` frames) or repeat (``factor < 0``: each frame ``-factor`` times).

    A trailing partial group of frames is dropped when pooling.
    """
    try:
        f = int(factor)
    except (TypeError, ValueError):
        raise TransformError(f"factor must be a non-zero integer, got {factor!r}") from None
    if f == 0 or f != factor:
        raise TransformError(f"factor must be a non-zero integer, got {factor!r}")
    if f in (1, -1):
        return x
    if f < 0:
        return x.repeat_interleave(-f, dim=-1)
    T = x.shape[-1] // f
    return x[..., : T * f].reshape(*x.shape[:-1], T, f).mean(dim=-1)


def split_into_clips(ds, clip_bins: int, *, drop_last: bool = True):
    """Split every stimulus of ``ds`` and its responses into clips of ``clip_bins`` bins.

    Works on any dataset whose stimuli share the response time axis
    (spectrogram or video).  The result is a new eager dataset of the same
    class at ``ds.dt``: stimulus ``s`` becomes clips ``s#0, s#1, ...`` (ids
    ``"<id>#clip<c>"``, metadata copied with ``clip_of``, ``clip_index`` and
    ``clip_start_bin`` added), each pair's ``(R, T)`` response is cut the same
    way, and missing pairs stay missing.  The last, shorter clip is dropped
    unless ``drop_last=False``.  Transforms already applied are recorded on
    the result (its data are the transformed values); the split itself is
    recorded in the clips' metadata, so an untransformed result can be saved.
    """
    if isinstance(clip_bins, bool) or not isinstance(clip_bins, (int, np.integer)) or clip_bins < 1:
        raise TransformError(f"split_into_clips: clip_bins must be a positive integer, got {clip_bins!r}")
    if ds.stim_kind == L.STIM_WAVEFORM:
        raise TransformError("split_into_clips: waveform stimuli do not share the response time axis")
    L_ = int(clip_bins)
    stims, rows, metas, ids = [], [], [], []
    integer = True
    for s in range(ds.get_S()):
        x = ds.stims[s]
        resp = ds.row_tensors(s)
        T = int(ds.n_bins[s])
        starts = list(range(0, T, L_))
        for c, b0 in enumerate(starts):
            b1 = min(b0 + L_, T)
            if b1 - b0 < L_ and drop_last:
                continue
            stims.append(x[..., b0:b1].numpy())
            row = []
            for t in resp:
                if t is None:
                    row.append(None)
                    continue
                a = t[:, b0:b1].numpy()
                if integer and (np.isnan(a).any() or not np.array_equal(a, np.floor(a)) or (a < 0).any()):
                    integer = False
                row.append(a)
            rows.append(row)
            metas.append({**ds.stim_meta[s], "clip_of": ds.stim_ids[s], "clip_index": c, "clip_start_bin": b0})
            ids.append(f"{ds.stim_ids[s]}#clip{c}")
    if not stims:
        raise TransformError(f"split_into_clips: every stimulus is shorter than clip_bins={L_}")
    info = ds.contents.info
    contents = contents_from_lists(
        stims,
        rows,
        dt_ms=float(ds.dt),
        stim_meta=metas,
        nrn_meta=[dict(m) for m in ds.nrn_meta],
        stim_ids=ids,
        neuron_ids=list(ds.neuron_ids),
        stim_kind=ds.stim_kind,
        response_kind=L.RESPONSE_COUNTS if integer else L.RESPONSE_CONTINUOUS,
        file_meta=dict(info.metadata),
        schemas=dict(info.schemas) if info.schemas else None,
    )
    cls = VideoNeuralDataset if contents.info.modality == L.MODALITY_VIDEO else AudioNeuralDataset
    out = cls(contents)
    out.transforms = [dict(t) for t in ds.transforms if t.get("name") != "bin"]
    return out


class VideoNeuralDataset(NeuralDataset):
    """A video dataset: stimuli ``(C, H, W, T)``; see :mod:`strfh5.video` for its helpers."""

    def __init__(self, contents: Contents, **kw):
        super().__init__(contents, **kw)
        dims = contents.info.stim_dims
        self.C, self.H, self.W = (int(d) for d in dims[:3])

    def _record(self, name: str, fn, **params) -> dict:
        self._add_stim_op(("call", fn, params))
        rec = {"name": name, **params}
        self.transforms.append(rec)
        return dict(rec)

    def from_rgb_to_grayscale(self, *, force: bool = False) -> dict:
        """Convert RGB videos to one luminance channel (ITU-R BT.601 weights)."""
        check_not_applied(self.transforms, "from_rgb_to_grayscale", force)
        if self.C == 1:
            raise TransformError("from_rgb_to_grayscale: the videos already have one channel")
        if self.C != 3:
            raise TransformError(f"from_rgb_to_grayscale: expected 3 (RGB) channels, the videos have {self.C}")
        rec = self._record("from_rgb_to_grayscale", to_grayscale)
        self.C = 1
        return rec

    def change_spatial_resolution(self, size, mode: str = "area", *, force: bool = False) -> dict:
        """Resample every frame to ``size = (H, W)`` (``mode`` as in ``torch.nn.functional.interpolate``)."""
        check_not_applied(self.transforms, "change_spatial_resolution", force)
        H, W = check_size(size)
        rec = self._record("change_spatial_resolution", resize_frames, size=(H, W), mode=mode)
        self.H, self.W = H, W
        return rec

    def normalize_videos(self, stim_indices=None, eps: float = 1e-8, *, force: bool = False) -> dict:
        """Standardise videos per channel (``standardize_stims(per_band=True)``)."""
        return self.standardize_stims(stim_indices=stim_indices, per_band=True, eps=eps, force=force)

    def change_temporal_resolution(self, dt_ms) -> "VideoNeuralDataset":
        """Read the dataset again at bin width ``dt_ms`` (frames pooled or repeated, responses rebinned).

        Returns a new dataset from the same contents (selections reset); refused
        when transforms other than binning were applied (reload, rebin, then
        transform).
        """
        applied = [t["name"] for t in self.transforms if t["name"] != "bin"]
        if applied:
            raise TransformError(f"change_temporal_resolution: transforms already applied ({', '.join(applied)}); "
                                 "rebin first, then transform")
        return VideoNeuralDataset(self.contents, lazy=self.lazy, dt_ms=dt_ms, window_ms=self.window_ms)

    def add_noise_to_videos(self, video_tensor: torch.Tensor, noise_level: float = 0.1, *,
                            generator: torch.Generator | None = None) -> torch.Tensor:
        """``video_tensor`` plus Gaussian noise of standard deviation ``noise_level`` (deepSTRF's helper).

        Pure: returns a new tensor and leaves the dataset unchanged (as in
        deepSTRF).  ``generator`` makes the noise reproducible.
        """
        if not isinstance(video_tensor, torch.Tensor):
            raise TransformError(f"add_noise_to_videos: video_tensor must be a tensor, got "
                                 f"{type(video_tensor).__name__}")
        level = number_argument(noise_level, "noise_level", TransformError) if noise_level != 0 else 0
        noise = torch.randn(video_tensor.shape, generator=generator, dtype=video_tensor.dtype)
        return video_tensor + noise * level

    def change_video_temporal_resolution(self, video: torch.Tensor, native_dt, target_dt) -> tuple[torch.Tensor, int]:
        """deepSTRF's helper: keep one frame in every ``target_dt / native_dt``; returns ``(video, T)``.

        ``target_dt`` must be an integer multiple of ``native_dt``
        (TransformError otherwise).  Pure, like deepSTRF's: the dataset is
        unchanged.  Frames are *subsampled* here, as in deepSTRF; reading the
        dataset at a coarser ``dt_ms`` (:meth:`change_temporal_resolution`,
        ``strfh5.load(..., dt_ms=...)``) *averages* them instead.
        """
        native = number_argument(native_dt, "native_dt", TransformError)
        target = number_argument(target_dt, "target_dt", TransformError)
        ratio = round(target / native)
        if ratio < 1 or abs(target / native - ratio) > 1e-9:
            raise TransformError(f"change_video_temporal_resolution: target_dt={target_dt!r} must be an integer "
                                 f"multiple of native_dt={native_dt!r}")
        if not isinstance(video, torch.Tensor):
            raise TransformError(f"change_video_temporal_resolution: video must be a tensor, got "
                                 f"{type(video).__name__}")
        out = video if ratio == 1 else video[..., ::ratio]
        return out, int(out.shape[-1])

    def split_into_clips(self, clip_bins: int, *, drop_last: bool = True) -> "VideoNeuralDataset":
        """Split every stimulus and its responses into clips of ``clip_bins`` bins (see :func:`strfh5.video.split_into_clips`)."""
        return split_into_clips(self, clip_bins, drop_last=drop_last)
