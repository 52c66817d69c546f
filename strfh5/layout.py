"""Names, types and small rules of the strfh5 1.x on-disk layout.

This module is the code counterpart of SPEC.md §3–§8: every HDF5 object name,
attribute name, enumerated value and dtype rule the format defines lives here,
so that the writer, the reader and the validator cannot drift apart.  It holds
no I/O beyond the row-digest function (SPEC.md §7), which both the writer and
the validator use.
"""

from __future__ import annotations

import hashlib
import re
from typing import Iterable

import numpy as np

# ---------------------------------------------------------------- version (§2)
FORMAT_NAME = "strfh5"
FORMAT_VERSION = (1, 1)
FORMAT_VERSION_STR = "1.1"

# ------------------------------------------------------------ root attrs (§3)
ATTR_FORMAT = "strfh5_format"
ATTR_VERSION = "strfh5_version"
ATTR_UUID = "uuid"
ATTR_CREATED_BY = "created_by"
ATTR_CREATED_AT = "created_at"
ATTR_ENCODING = "encoding"
ATTR_DT_MS = "dt_ms"
ATTR_MODALITY = "modality"
ATTR_STIM_KIND = "stim_kind"
ATTR_STIM_DIMS = "stim_dims"
ATTR_RESPONSE_KIND = "response_kind"
ATTR_SCHEMA_FILE = "schema_file"
ATTR_SCHEMA_STIMULUS = "schema_stimulus"
ATTR_SCHEMA_NEURON = "schema_neuron"
ATTR_CONCATENATED = "concatenated"

REQUIRED_ROOT_ATTRS = (
    ATTR_FORMAT,
    ATTR_VERSION,
    ATTR_UUID,
    ATTR_CREATED_BY,
    ATTR_CREATED_AT,
    ATTR_ENCODING,
    ATTR_DT_MS,
    ATTR_MODALITY,
    ATTR_STIM_KIND,
    ATTR_STIM_DIMS,
    ATTR_RESPONSE_KIND,
    ATTR_SCHEMA_FILE,
    ATTR_SCHEMA_STIMULUS,
    ATTR_SCHEMA_NEURON,
)

# ---------------------------------------------------------- enumerations (§3)
ENCODING_EVENTS = "events"
ENCODING_BINNED = "binned"
ENCODINGS = (ENCODING_EVENTS, ENCODING_BINNED)

MODALITY_AUDIO = "audio"
MODALITY_VIDEO = "video"
MODALITIES = (MODALITY_AUDIO, MODALITY_VIDEO)

STIM_SPECTROGRAM = "spectrogram"  # (C, F, T)
STIM_WAVEFORM = "waveform"  # (C, T_audio)
STIM_VIDEO = "video"  # (C, H, W, T)
STIM_KINDS = (STIM_SPECTROGRAM, STIM_WAVEFORM, STIM_VIDEO)
STIM_KIND_MODALITY = {
    STIM_SPECTROGRAM: MODALITY_AUDIO,
    STIM_WAVEFORM: MODALITY_AUDIO,
    STIM_VIDEO: MODALITY_VIDEO,
}
#: number of non-time axes of a stimulus array, channel axis included
STIM_KIND_NDIM = {STIM_SPECTROGRAM: 3, STIM_WAVEFORM: 2, STIM_VIDEO: 4}

RESPONSE_SPIKE_TIMES = "spike_times"  # events encoding
RESPONSE_COUNTS = "counts"  # binned, unsigned integers
RESPONSE_CONTINUOUS = "continuous"  # binned, float32
RESPONSE_KINDS = (RESPONSE_SPIKE_TIMES, RESPONSE_COUNTS, RESPONSE_CONTINUOUS)
ENCODING_RESPONSE_KINDS = {
    ENCODING_EVENTS: (RESPONSE_SPIKE_TIMES,),
    ENCODING_BINNED: (RESPONSE_COUNTS, RESPONSE_CONTINUOUS),
}

# --------------------------------------------------------- datasets (§4–§6)
METADATA = "metadata"  # scalar UTF-8 JSON string: file-level metadata
RESPONSES = "responses"  # (S, N) VLEN
COUNTS = "counts"  # (S, N) VLEN per-repeat spike counts (events only)
REPEATS = "repeats"  # (S, N) unsigned
STIMULI = "stimuli"
STIM_IDS = "stimuli/ids"
STIM_METADATA = "stimuli/metadata"
STIM_N_BINS = "stimuli/n_bins"
STIM_DATA = "data"
STIM_WAVEFORM_DS = "waveform"
ATTR_SAMPLE_RATE = "sample_rate"
ATTR_WAVEFORM_SCALE = "scale"  # on a kept int16 waveform: the amplitude one integer unit stands for
WAVEFORM_INT_DTYPE = np.dtype("<i2")  # compact kept waveforms (16-bit PCM sources)
WAVEFORM_INT16_SCALE = 1.0 / 32768.0  # the scale of 16-bit PCM read as [-1, 1)
ATTR_TRANSFORM = "transform"  # on /stimuli: JSON string
ATTR_COUNT = "count"  # on /stimuli: S
NEURONS = "neurons"
NEURON_IDS = "neurons/ids"
NEURON_METADATA = "neurons/metadata"
INTEGRITY = "integrity"
INTEGRITY_RESPONSES = "integrity/responses"
INTEGRITY_COUNTS = "integrity/counts"
ATTR_ALGORITHM = "algorithm"
DIGEST_ALGORITHM = "sha256-row-v1"
DIGEST_SIZE = 32
SOURCES = "sources"  # concatenated files only (§9)
SOURCE_PATHS = "sources/paths"
SOURCE_UUIDS = "sources/uuids"
SOURCE_STIM_OFFSETS = "sources/stim_offsets"
SOURCE_NEURON_OFFSETS = "sources/neuron_offsets"
SOURCE_STIM_ROWS = "sources/stim_rows"  # row of the file for each source row (§9)
RESPONSE_INDEX = "index"  # optional byte-range index of the VLEN payloads (SPEC §7.2)
RESPONSE_INDEX_RESPONSES = "index/responses"  # (S, N, 2) uint64: [file offset, byte length]
RESPONSE_INDEX_COUNTS = "index/counts"  # events files only
ATTR_INDEX_LAYOUT = "layout"  # on /index: INDEX_LAYOUT
INDEX_LAYOUT = "byte-range-v1"

#: time (ms) dtypes allowed for events; count dtypes allowed for binned counts
EVENT_TIME_DTYPES = (np.dtype("<f4"), np.dtype("<f8"))
COUNT_DTYPES = (np.dtype("u1"), np.dtype("<u2"), np.dtype("<u4"), np.dtype("<u8"))
CONTINUOUS_DTYPE = np.dtype("<f4")
STIM_DTYPES = (np.dtype("<f2"), np.dtype("<f4"), np.dtype("<f8"))

STIM_GROUP_DIGITS = 6
_STIM_GROUP_RE = re.compile(r"^[0-9]{%d,}$" % STIM_GROUP_DIGITS)


def stim_group_name(index: int) -> str:
    """Name of the group of stimulus ``index`` under ``/stimuli`` (SPEC §5)."""
    return f"{int(index):0{STIM_GROUP_DIGITS}d}"


def stim_group_path(index: int) -> str:
    return f"{STIMULI}/{stim_group_name(index)}"


def is_stim_group_name(name: str) -> bool:
    return bool(_STIM_GROUP_RE.match(name))


def smallest_uint(max_value: int) -> np.dtype:
    """The smallest unsigned integer dtype of :data:`COUNT_DTYPES` holding ``max_value``."""
    for dt in COUNT_DTYPES:
        if max_value <= np.iinfo(dt).max:
            return dt
    raise OverflowError(f"count {max_value} does not fit in 64 bits")


def repeats_dtype(max_repeats: int) -> np.dtype:
    """dtype of ``/repeats``: uint8, or wider when a pair has more than 255 repeats."""
    return smallest_uint(max(int(max_repeats), 0))


_VERSION_RE = re.compile(r"(0|[1-9][0-9]*)[.](0|[1-9][0-9]*)")


def parse_version(text) -> tuple[int, int]:
    """Parse a ``"MAJOR.MINOR"`` version string (SPEC §2); raises ValueError when malformed.

    The grammar is ASCII only: ``MAJOR.MINOR`` where each part is ``0`` or a
    decimal without leading zeros; no whitespace, sign or other digit
    characters (``' 1.0'``, ``'01.0'`` and full-width digits are refused).
    ``text`` must already be a ``str``: a number stored in place of the string
    is refused too.
    """
    if not isinstance(text, str):
        raise ValueError(f"format version {text!r} is not a string (expected 'MAJOR.MINOR')")
    m = _VERSION_RE.fullmatch(text) if text.isascii() else None
    if not m:
        raise ValueError(f"malformed format version {text!r} (expected 'MAJOR.MINOR', ASCII digits, "
                         "no leading zeros or whitespace)")
    return int(m.group(1)), int(m.group(2))


def row_digest(elements: Iterable[np.ndarray]) -> bytes:
    """SHA-256 digest of one stimulus row of a VLEN dataset (SPEC §7).

    For each element of the row, in neuron order, the digest absorbs the
    element length as a little-endian unsigned 64-bit integer followed by the
    element's values in little-endian byte order.  The bytes are fed from
    the arrays' own buffers (no per-element numpy scalar, no copy of
    little-endian contiguous data).
    """
    h = hashlib.sha256()
    update = h.update
    for el in elements:
        a = el if isinstance(el, np.ndarray) else np.asarray(el)
        if a.dtype.byteorder == ">" or (a.dtype.byteorder == "=" and not np.little_endian):
            a = a.astype(a.dtype.newbyteorder("<"))
        update(a.size.to_bytes(8, "little"))
        if a.size:
            update(a.data if a.flags.c_contiguous else np.ascontiguousarray(a).data)
    return h.digest()


def flat_row_digest(payload: np.ndarray, lengths: np.ndarray, itemsize: int) -> bytes:
    """:func:`row_digest` of elements given back to back: ``payload`` (uint8) their little-endian bytes, in
    neuron order, ``lengths`` their value counts, ``itemsize`` the bytes of one value.

    Byte-identical to :func:`row_digest` of the split elements, without one
    array per element: the SHA-256 of :func:`flat_row_message`.
    """
    return hashlib.sha256(flat_row_message(payload, lengths, itemsize)).digest()


def flat_row_message(payload: np.ndarray, lengths: np.ndarray, itemsize: int):
    """The bytes :func:`row_digest` absorbs for elements given back to back (see :func:`flat_row_digest`), as
    one contiguous buffer (one copy of the row): each element's length as 8 little-endian bytes, then its values.

    Elements all of one length (binned rows of one repeat count) are laid
    out as one ``(N, 8 + bytes)`` table, others are joined with their
    lengths (views, one ``join``), or, past :data:`_JOIN_MAX` elements,
    scattered into one buffer with numpy (no Python per element).
    """
    lengths = np.asarray(lengths, dtype=np.int64).reshape(-1)
    payload = np.ascontiguousarray(payload, dtype=np.uint8).reshape(-1)
    n = lengths.size
    if n and (lengths == lengths[0]).all():
        size = int(lengths[0]) * itemsize
        buf = np.empty((n, 8 + size), dtype=np.uint8)
        buf[:, :8] = np.asarray(lengths[:1], dtype="<u8").view(np.uint8)
        buf[:, 8:] = payload.reshape(n, size)
        return buf
    if n > _JOIN_MAX:  # many elements: the lengths scattered into one buffer with numpy (no Python per element)
        nbytes = lengths * itemsize
        buf = np.empty(8 * n + payload.size, dtype=np.uint8)
        slots = ((8 * np.arange(n, dtype=np.int64) + np.cumsum(nbytes) - nbytes)[:, None] + np.arange(8)).reshape(-1)
        keep = np.ones(buf.size, dtype=bool)
        keep[slots] = False
        buf[slots] = lengths.astype("<u8").view(np.uint8)
        buf[keep] = payload
        return buf
    ends = np.cumsum(lengths * itemsize).tolist()
    mv = memoryview(payload)
    return joined_row_message(lengths, [mv[a:b] for a, b in zip([0] + ends[:-1], ends)])


def joined_row_message(lengths: np.ndarray, pieces: list) -> bytes:
    """The bytes :func:`row_digest` absorbs, joined once: element ``i``'s value count ``lengths[i]`` as 8
    little-endian bytes, then ``pieces[i]`` (its values' little-endian bytes: any bytes-like object)."""
    lb = np.asarray(lengths, dtype=np.int64).astype("<u8").tobytes()
    parts: list = [b""] * (2 * len(pieces))
    parts[0::2] = [lb[i : i + 8] for i in range(0, len(lb), 8)]
    parts[1::2] = pieces
    return b"".join(parts)


#: up to this many elements a row's digest joins views of its elements (faster); beyond, a numpy scatter
_JOIN_MAX = 2048


#: the most values one (stimulus, neuron) element may hold (repeats x n_bins, or spike times): 2**34,
#: 64 GiB of float32, far beyond any recording; a file declaring more is refused before allocation
MAX_ELEMENT_VALUES = 2**34
