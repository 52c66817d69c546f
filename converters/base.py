"""The contract every converter module follows.

A converter is a plain module ``strfh5/converters/<name>.py`` defining

``SOURCE``
    a :class:`SourceInfo`: the source id used on the command line
    (``strfh5 convert SOURCE``), citation, DOI, licence/access terms, the files
    of the release (:class:`ReleaseFile`, fetched with pooch), the schema
    folder under ``schema/sources/`` and the converter's options
    (:class:`Option`).
``convert(raw_dir, out_path, *, overwrite=False, **options) -> pathlib.Path``
    reads the release unpacked under ``raw_dir`` and streams it into a
    :class:`strfh5.StreamWriter` opened through :func:`validated_output`, so
    the result is validated before it is renamed into place.

Modules are registered in the entry-point group ``strfh5.converters`` (the
built-ins in strfh5's ``pyproject.toml``, plug-ins in their own package's) and
found through :data:`strfh5.converters.SOURCES`; nothing registers itself at
import time.
"""

from __future__ import annotations

import contextlib
import csv
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

from tqdm.auto import tqdm

from strfh5.errors import ConverterError, MissingRawFileError, RawDataError
from strfh5.validation import validate
from strfh5.version import __version__
from strfh5.writer import StreamWriter

__all__ = [
    "SourceInfo",
    "ReleaseFile",
    "Option",
    "validated_output",
    "require_file",
    "check_options",
    "ConversionWarning",
    "QuirkLog",
    "find_root",
    "converter_meta",
    "read_csv_dicts",
    "raw_folder",
    "VERIFICATION_LEVELS",
    "NUMBER_RE",
    "parse_number",
    "provenance",
]

#: how far a converter was checked against real data, strongest first (``SourceInfo.verified``)
VERIFICATION_LEVELS = {
    "release_files": "real release files: tested on files of the published release, values matched exactly",
    "real_sample": "real sample: tested on real public pieces of the release (tables, lists, sample files), "
                   "the rest on fixtures built to the reference readers",
    "reference_reader": "reference reader only: tested on fixtures built to the layout the data owners' and "
                        "other public readers expect; no real file of the release was available",
}
#: a decimal number as the releases write them: optional sign, digits, optional fraction and exponent
#: in ASCII digits (no ``_`` separators, no ``inf``/``nan``, no hexadecimal, no non-ASCII digits, unlike
#: Python's ``float``)
NUMBER_RE = re.compile(r"^[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$")


@dataclass(frozen=True)
class ReleaseFile:
    """One file of a public release.

    Attributes
    ----------
    name : str
        File name in the cache (and in the release).
    url : str
        Download URL.
    known_hash : str or None
        ``"sha256:<hex>"`` / ``"md5:<hex>"`` when known; None when the
        release publishes no hash (the download then says so).
    size : int or None
        Size in bytes when known (informational).
    unpack : str or None
        ``"zip"``, ``"tar"`` (any compression) or None to keep the file as is.
    credentials : str or None
        Name of the credential set needed (``"crcns"``) or None for open data.
    strip : int
        Leading path components dropped from every archive member when
        unpacking (like ``tar --strip-components``; AA2 archives wrap their
        content in ``crcns/aa2/``: 2).
    optional : bool
        Fetched only when named explicitly (``strfh5 fetch SOURCE --file NAME``),
        e.g. code archives or very large parts of a release.
    """

    name: str
    url: str
    known_hash: str | None = None
    size: int | None = None
    unpack: str | None = None
    credentials: str | None = None
    strip: int = 0
    optional: bool = False


@dataclass(frozen=True)
class Option:
    """A converter option, exposed as ``--<name>`` by ``strfh5 convert``."""

    name: str
    type: Callable = str
    default: Any = None
    help: str = ""
    choices: Sequence[Any] | None = None
    multiple: bool = False  # a list of values (comma-separated on the command line)


@dataclass(frozen=True)
class SourceInfo:
    """What a converter declares about its source."""

    id: str
    title: str
    citation: str
    doi: str
    license: str
    access: str
    files: Sequence[ReleaseFile] = field(default_factory=tuple)
    options: Sequence[Option] = field(default_factory=tuple)
    schema: str | None = None  # folder name under schema/sources/
    species: str = ""
    homepage: str = ""
    #: how the converter was checked against real data: a key of VERIFICATION_LEVELS
    verified: str = "reference_reader"
    #: what the check was (which real files, which reference readers)
    verification: str = ""
    #: converter version: bumped whenever the same raw release converts to different output
    version: str = "1"
    audio: tuple = ()  # (sample rate in Hz, bits per sample, "int" or "float") of the release's sounds, if known

    def option(self, name: str) -> Option:
        for o in self.options:
            if o.name == name:
                return o
        raise ConverterError(
            f"{self.id}: unknown option {name!r}; options are: {', '.join(o.name for o in self.options) or 'none'}"
        )

    def file_meta(self, **extra) -> dict:
        """File-level metadata common to every file this source produces."""
        meta = {
            "source": self.id,
            "title": self.title,
            "citation": self.citation,
            "doi": self.doi,
            "license": self.license,
            "access": self.access,
        }
        if self.species:
            meta["species"] = self.species
        meta.update(extra)
        return meta


def check_options(source: SourceInfo, options: dict) -> dict:
    """Fill defaults and refuse unknown options or values outside ``choices``.

    A ``multiple`` option given as one string is split on commas
    (``"A1,PEG"`` -> ``["A1", "PEG"]``, as on the command line); given as a
    tuple or set it becomes a list, so converters always see a list (or None).
    """
    out = {}
    for name, value in options.items():
        opt = source.option(name)
        if opt.multiple and value is not None:
            if isinstance(value, str):
                value = [v.strip() for v in value.split(",") if v.strip()]
            elif isinstance(value, (tuple, set, frozenset)):
                value = list(value)
        if opt.choices is not None and value is not None:
            values = value if opt.multiple and isinstance(value, list) else [value]
            bad = [v for v in values if v not in opt.choices]
            if bad:
                raise ConverterError(
                    f"{source.id}: option {name}={bad[0]!r} is not one of {list(opt.choices)}"
                )
        out[name] = value
    for opt in source.options:
        if opt.name not in out:
            out[opt.name] = list(opt.default) if opt.multiple and isinstance(opt.default, tuple) else opt.default
    return out


def require_file(path: os.PathLike | str, what: str) -> Path:
    """Return ``path`` if it exists, else raise :class:`MissingRawFileError` naming it."""
    p = Path(path)
    if not p.exists():
        raise MissingRawFileError(f"{p}: {what} is missing from the raw release folder")
    return p


@contextlib.contextmanager
def validated_output(out_path, **writer_kwargs) -> Iterator:
    """Open a :class:`strfh5.StreamWriter` whose output is validated before it lands.

    The writer writes to a temporary path beside ``out_path``; when the block
    ends without error the file is closed, validated with
    :func:`strfh5.validate` (errors refuse the file: it is removed and a
    :class:`ConverterError` lists the findings) and renamed to ``out_path``.
    """
    out_path = Path(out_path)
    overwrite = writer_kwargs.pop("overwrite", False)
    if out_path.exists() and not overwrite:
        raise FileExistsError(f"{out_path} exists (pass overwrite=True / --overwrite to replace it)")
    staged = out_path.with_name(out_path.name + ".unvalidated")  # a leftover name (strfh5.leftovers)
    writer = StreamWriter(staged, overwrite=True, **writer_kwargs)
    bar = _count_rows(writer, out_path.name)
    try:
        yield writer
    except BaseException:
        bar.close()
        writer.abort()
        raise
    bar.close()
    writer.close()
    try:
        report = validate(staged)
        if not report.ok:
            lines = "\n".join(f"  {f}" for f in report.errors[:20])
            raise ConverterError(f"{out_path}: the converted file fails validation:\n{lines}")
        os.replace(staged, out_path)
    finally:
        if staged.exists():
            staged.unlink()


def _count_rows(writer, name: str):
    """A tqdm bar (quiet when stderr is not a terminal) ticking once per stimulus row the writer writes."""
    bar = tqdm(desc=f"convert {name}", unit="stim", disable=None, leave=False)
    write_row = writer.write_row

    def counted(*args, **kwargs):
        out = write_row(*args, **kwargs)
        bar.update()
        return out

    writer.write_row = counted
    return bar


# ------------------------------------------------------------ shared helpers
class ConversionWarning(UserWarning):
    """A quirk of a raw release that a converter handled (and recorded in the file)."""


class QuirkLog:
    """Collects the quirks a converter handles: each is warned and kept for the file metadata.

    ``log.add(kind, message, **details)`` issues a :class:`ConversionWarning`
    and records ``{"kind", "message", **details}``; :meth:`records` is stored
    under the file metadata's ``provenance.quirks`` so a file says what its
    converter did about the release's irregularities.
    """

    def __init__(self, source_id: str):
        self.source_id = source_id
        self._records: list[dict] = []

    def add(self, kind: str, message: str, **details) -> None:
        import warnings

        warnings.warn(f"{self.source_id}: {message}", ConversionWarning, stacklevel=2)
        self._records.append({"kind": kind, "message": message, **details})

    def records(self) -> list[dict]:
        return list(self._records)

    def count(self, kind: str) -> int:
        return sum(1 for r in self._records if r["kind"] == kind)

    def __len__(self) -> int:
        return len(self._records)


def raw_folder(raw_dir) -> Path:
    """``raw_dir`` as a Path; :class:`MissingRawFileError` naming it when it is not a folder."""
    raw = Path(raw_dir)
    if not raw.is_dir():
        raise MissingRawFileError(f"{raw}: the raw release folder does not exist")
    return raw


def find_root(raw_dir, marker: str, what: str) -> Path:
    """The release root under ``raw_dir``: ``raw_dir`` itself or its only subfolder holding ``marker``.

    Archives sometimes wrap their content in a folder; this accepts both.
    Raises :class:`MissingRawFileError` naming ``marker`` when neither holds it.
    """
    raw = raw_folder(raw_dir)
    if (raw / marker).exists():
        return raw
    hits = [d for d in sorted(raw.iterdir()) if d.is_dir() and (d / marker).exists()]
    if len(hits) == 1:
        return hits[0]
    raise MissingRawFileError(
        f"{raw}: {marker!r} not found — is this the unpacked {what} release? (expected {marker} in this folder)"
    )


def converter_meta(source: SourceInfo, options: dict) -> dict:
    """The ``converter`` record of the file metadata (id, library and converter version, options used)."""
    clean = {}
    for k, v in options.items():
        clean[k] = list(v) if isinstance(v, (tuple, set, frozenset)) else v
    return {"id": source.id, "version": f"strfh5 {__version__}", "converter_version": source.version,
            "options": clean}


def provenance(source: SourceInfo, options: dict, log: "QuirkLog | None" = None, **extra) -> dict:
    """The ``provenance`` record every converter stores in its file metadata.

    Holds the ``converter`` record (:func:`converter_meta`), the release files
    with their pinned hash (``known_hash``, None when the release publishes
    none), the verification level of the converter (``verified``), the quirks
    handled (``log.records()``) and ``extra`` entries, so a file can be traced
    back to its raw release.
    """
    return {
        "converter": converter_meta(source, options),
        "release_files": [{"name": f.name, "url": f.url, "known_hash": f.known_hash, "optional": f.optional}
                          for f in source.files],
        "verified": source.verified,
        "quirks": log.records() if log is not None else [],
        **extra,
    }


def parse_number(text: str, where: str, *, integer: bool = False) -> float | int:
    """A number written in a raw text file, parsed strictly.

    Accepts what :data:`NUMBER_RE` describes (``-12``, ``3.5``, ``.5``,
    ``1e-3``); refuses what Python's ``float`` would also take (``1_0.5``,
    ``inf``, ``nan``, `` 0x1p3``), so a damaged token is never read as a
    different number.

    Raises
    ------
    RawDataError
        Naming ``where`` (file and line or row) and the bad text.
    """
    t = text.strip()
    if not NUMBER_RE.match(t):
        raise RawDataError(f"{where}: {text!r} is not a decimal number")
    if integer:
        if not re.fullmatch(r"[+-]?[0-9]+", t):
            raise RawDataError(f"{where}: {text!r} is not a whole number")
        return int(t)
    v = float(t)
    if not math.isfinite(v):
        raise RawDataError(f"{where}: {text!r} is out of the float64 range")
    return v


def read_csv_dicts(path, what: str, required: Sequence[str] = ()) -> list[dict]:
    """Rows of a release's CSV table (header row first) as dicts, keys and text values stripped.

    Parameters
    ----------
    path : path-like
    what : str
        What the table is, for messages (``"cell_list.csv (cell metadata)"``).
    required : sequence of str
        Columns the header must name.

    Raises
    ------
    MissingRawFileError
        The file is absent.
    RawDataError
        It is not UTF-8 CSV text, or its header lacks a ``required`` column.
    """
    p = Path(path)
    if not p.is_file():
        raise MissingRawFileError(f"{p}: {what} is missing from the raw release folder")
    try:
        with open(p, newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            header = [(h or "").strip() for h in (reader.fieldnames or [])]
            rows = list(reader)
    except (UnicodeDecodeError, csv.Error) as e:
        raise RawDataError(f"{p}: {what} is not a readable CSV table ({e})") from None
    missing = [c for c in required if c not in header]
    if missing:
        raise RawDataError(f"{p}: {what} lacks column(s) {missing} (columns: {header})")
    return [{k.strip(): (v.strip() if isinstance(v, str) else v) for k, v in r.items() if k and k.strip()}
            for r in rows]
