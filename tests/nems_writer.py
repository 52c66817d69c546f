"""A writer of NEMS recordings in the published layout, for building release-shaped test fixtures.

The converters only read NEMS recordings (:mod:`strfh5.converters.nems_recording`);
this writer lives with the tests that need it.
"""

from __future__ import annotations

import csv
import io
import json
import tarfile
from collections import OrderedDict
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from strfh5.converters.nems_recording import _CLASS_NAMES, _KINDS, POINT_PROCESS, RASTERIZED, Epochs

def write_epochs(fh, epochs: Epochs, columns: Sequence[str] = ("start", "end", "name")) -> None:
    """Write an epoch table to a text file object (header ``columns``; names quoted when needed)."""
    w = csv.writer(fh, lineterminator="\n")
    w.writerow(list(columns))
    for s, e, n in zip(epochs.start, epochs.end, epochs.name):
        vals = {"start": repr(float(s)), "end": repr(float(e)), "name": n}
        w.writerow([vals[c] for c in columns])


def write_recording(
    path,
    name: str,
    signals: Sequence[Mapping[str, Any]],
    *,
    meta: dict | None = None,
    folder: str | None = "",
    legacy: bool = False,
    epoch_columns: Sequence[str] = ("start", "end", "name"),
    raster_format: str = "csv",
    module: str = "nems0.signal",
) -> Path:
    """Write a NEMS recording in the published layout (tests use it to build releases).

    Parameters
    ----------
    path : str or os.PathLike
        A ``.tgz``/``.tar.gz`` archive, or a folder when it has no such suffix.
    name : str
        Recording name (file prefix).
    signals : sequence of mappings
        Each with ``name``, ``fs``, ``kind`` (``'rasterized'``,
        ``'point_process'``, ``'tiled'``), ``data`` (``(C, T)`` array; dict
        channel -> spike times in s; dict epoch name -> ``(F, T)``),
        ``epochs`` (:class:`Epochs` or None), optional ``chans``, ``meta``,
        ``segments``.
    meta : dict, optional
        Recording metadata, written as ``<name>.meta.json`` when given.
    folder : str or None
        Folder inside the archive (``""`` means ``<name>/``, None the top).
    legacy : bool
        Write sidecars as 2017-2018 NEMS did (no ``signal_type``, no segments).
    epoch_columns : sequence of str
        Header order of the epoch tables.
    raster_format : {'csv', 'h5'}
        How rasterized signals are stored.
    module : str
        Module named in ``signal_type`` (``nems0.signal``, ``nems.signal``).
    """
    path = Path(path)
    files: dict[str, bytes] = OrderedDict()
    if meta is not None:
        files[f"{name}.meta.json"] = json.dumps(meta).encode()
    for sig in signals:
        sname = sig["name"]
        kind = sig.get("kind", RASTERIZED)
        if kind not in _KINDS:
            raise ValueError(f"signal {sname!r}: kind {kind!r} is not one of {_KINDS}")
        base = f"{name}.{sname}"
        data = sig["data"]
        chans = sig.get("chans")
        if chans is None and kind == POINT_PROCESS:
            chans = list(data)
        side = {"name": sname, "chans": chans, "fs": sig["fs"], "meta": sig.get("meta"), "recording": name}
        if not legacy:
            side["segments"] = sig.get("segments", [[0, 0]])
            side["signal_type"] = f"<class '{module}.{_CLASS_NAMES[kind]}'>"
            side["normalization"] = "none"
            side["norm_baseline"] = [[0]]
            side["norm_gain"] = [[1]]
        files[f"{base}.json"] = json.dumps(side).encode()
        if sig.get("epochs") is not None:
            buf = io.StringIO()
            write_epochs(buf, sig["epochs"], epoch_columns)
            files[f"{base}.epoch.csv"] = buf.getvalue().encode()
        if data is None:
            continue
        if kind == RASTERIZED and raster_format == "csv":
            x = np.asarray(data, dtype=np.float64)
            buf = io.StringIO()
            np.savetxt(buf, x.T, fmt="%.18e", delimiter=",")
            files[f"{base}.csv"] = buf.getvalue().encode()
        else:
            import h5py

            bio = io.BytesIO()
            with h5py.File(bio, "w") as f:
                if kind == RASTERIZED:
                    f.create_dataset("raster", data=np.asarray(data, dtype=np.float64))
                else:
                    for key, arr in data.items():
                        f.create_dataset(key, data=np.asarray(arr), compression="gzip")
            files[f"{base}.h5"] = bio.getvalue()
    prefix = (name if folder == "" else folder or "").strip("/")
    if str(path).endswith((".tgz", ".tar.gz")):
        path.parent.mkdir(parents=True, exist_ok=True)
        with tarfile.open(path, "w:gz") as tf:
            if prefix:
                d = tarfile.TarInfo(prefix)
                d.type = tarfile.DIRTYPE
                d.mode = 0o755
                tf.addfile(d)
            for fname, blob in files.items():
                ti = tarfile.TarInfo(f"{prefix}/{fname}" if prefix else fname)
                ti.size = len(blob)
                ti.mode = 0o644
                tf.addfile(ti, io.BytesIO(blob))
    else:
        root = path / prefix if prefix else path
        root.mkdir(parents=True, exist_ok=True)
        for fname, blob in files.items():
            (root / fname).write_bytes(blob)
    return path


# ------------------------------------------------------- converter helpers
