"""Exceptions raised by strfh5.

Every error a user can provoke with bad input (a file, an argument, a raw
dataset) is an instance of :class:`StrfH5Error`, and its message names the
object at fault (file path, HDF5 object path, argument or raw file) and what is
wrong with it.  The classes below form one hierarchy so callers can catch as
broadly or as narrowly as they need::

    StrfH5Error
    ├── FileFormatError            a file is not a readable strfh5 file
    │   ├── NotStrfH5FileError     not HDF5 at all, or HDF5 without the strfh5 markers
    │   ├── UnsupportedVersionError  a newer major format version
    │   ├── MissingObjectError     a required group/dataset/attribute is absent
    │   ├── CorruptDataError       a stored invariant or digest does not hold
    │   ├── IndexBuildError        a response byte-range index cannot be built for this file
    │   ├── SourceFileError        a concatenated file's source is missing or replaced
    │   │   └── UnsafeSourcePathError  a source path leaves the file's folder
    │   └── RemoteAccessError      a file over HTTP that cannot (or may not) be read remotely
    ├── InvalidDataError           data handed to the writer violate the format
    │   └── DatasetContractError   a dataset breaks deepSTRF's contract (ds.validate(); an AssertionError)
    ├── MetadataError              metadata that is not JSON or fails its schema
    ├── SchemaNotFoundError        a schema id the library does not ship
    ├── SelectionError             a bad index or selection argument
    ├── TransformError             a reader-side transform cannot be applied
    │   ├── BinningError           a bin width the file cannot be read at
    │   └── SpectrogramError       spectrogram parameters the recipe cannot use (also a ConverterError)
    ├── IncompatibleDatasetsError  datasets that cannot be concatenated (also an AssertionError, as in deepSTRF)
    ├── DuplicateIdError           the same stable id twice where that is refused
    ├── ConverterError             a converter cannot proceed
    │   ├── RawDataError           a raw release file is not what the converter expects
    │   └── MissingRawFileError    a file of the release is absent
    ├── ExportError                a strfh5 file that cannot be exported (e.g. to NWB)
    ├── DownloadError              fetching a release failed
    │   └── CredentialsError       credentials needed for a download are missing
    ├── MissingDependencyError     an optional package (an extra: strfh5[convert], [plot], ...) is not installed
    └── MetricError                metric arguments with incompatible shapes or values
"""

from __future__ import annotations

__all__ = [
    "StrfH5Error",
    "FileFormatError",
    "NotStrfH5FileError",
    "UnsupportedVersionError",
    "MissingObjectError",
    "CorruptDataError",
    "IndexBuildError",
    "ResponseIndexWarning",
    "SourceFileError",
    "UnsafeSourcePathError",
    "RemoteAccessError",
    "InvalidDataError",
    "DatasetContractError",
    "MetadataError",
    "SchemaNotFoundError",
    "SelectionError",
    "TransformError",
    "BinningError",
    "SpectrogramError",
    "IncompatibleDatasetsError",
    "DuplicateIdError",
    "ConverterError",
    "RawDataError",
    "MissingRawFileError",
    "ExportError",
    "DownloadError",
    "CredentialsError",
    "MissingDependencyError",
    "MetricError",
]


class StrfH5Error(Exception):
    """Root of every exception strfh5 raises on bad input."""


class FileFormatError(StrfH5Error, OSError):
    """A file cannot be read as a strfh5 file (see SPEC.md)."""


class NotStrfH5FileError(FileFormatError):
    """The file is not HDF5, or is HDF5 without the strfh5 root attributes."""


class UnsupportedVersionError(FileFormatError):
    """The file's major format version is newer than this library reads."""


class MissingObjectError(FileFormatError):
    """A group, dataset or attribute that SPEC.md requires is absent."""


class CorruptDataError(FileFormatError):
    """Stored data contradict an invariant of the format or their digest."""


class IndexBuildError(FileFormatError):
    """A response byte-range index cannot be built: concatenated file, filtered VLEN data, unknown layout."""


class ResponseIndexWarning(UserWarning):
    """A file's response byte-range index failed a check; rows are read through HDF5 instead."""


class SourceFileError(FileFormatError):
    """A source of a concatenated file is missing, unreadable or replaced."""


class UnsafeSourcePathError(SourceFileError):
    """A source path is absolute or leaves the concatenated file's folder."""


class RemoteAccessError(FileFormatError):
    """A file at an ``http(s)://`` URL that cannot be read remotely.

    The server is unreachable, does not honour range requests, or the file is
    one the safety policy refuses over HTTP (a concatenated file, SPEC §9.3).
    """


class InvalidDataError(StrfH5Error, ValueError):
    """Data handed to the writer (or to ``from_lists``) violate the format."""


class DatasetContractError(InvalidDataError, AssertionError):
    """A dataset's in-memory state breaks the deepSTRF subclass contract (raised by ``ds.validate()``).

    Also an :class:`AssertionError`: deepSTRF's ``validate()`` asserts, so code
    catching ``AssertionError`` keeps working.
    """


class MetadataError(StrfH5Error, ValueError):
    """A metadata record is not valid JSON or does not satisfy its schema."""


class SchemaNotFoundError(StrfH5Error, LookupError):
    """A schema ``$id`` that is not shipped with this library."""


class SelectionError(StrfH5Error, IndexError):
    """A neuron or stimulus index out of range, or a malformed selection."""


class TransformError(StrfH5Error, ValueError):
    """A reader-side transform cannot be applied (e.g. applied twice)."""


class BinningError(TransformError):
    """A bin width (``dt_ms``) at which the file cannot be read."""


class ConverterError(StrfH5Error):
    """A converter cannot proceed (bad options, unusable raw data)."""


class SpectrogramError(TransformError, ConverterError):
    """Spectrogram parameters or a waveform the recipe (SPEC §5.3) cannot use."""


class IncompatibleDatasetsError(StrfH5Error, ValueError, AssertionError):
    """Datasets that differ in dt, F, (H, W), encoding or stimulus kind.

    Also an :class:`AssertionError`: deepSTRF's ``_concat_check_compat``
    asserts, so ``except AssertionError`` around ``a + b`` keeps catching the
    refusal (see docs/coming-from-deepstrf.md).
    """


class DuplicateIdError(StrfH5Error, ValueError):
    """The same stable id appears twice where that is not allowed."""


class RawDataError(ConverterError, ValueError):
    """A file of a raw release does not have the expected content."""


class MissingRawFileError(ConverterError, FileNotFoundError):
    """A file that the release should contain is absent."""


class ExportError(StrfH5Error, ValueError):
    """A strfh5 file that cannot be exported to another format (NWB) as asked."""


class DownloadError(StrfH5Error, OSError):
    """Downloading a release failed (network, hash mismatch, ...)."""


class CredentialsError(DownloadError):
    """A download needs credentials that are not set."""


class MissingDependencyError(StrfH5Error, ImportError):
    """An optional dependency needed by the called function is not installed.

    Raised by :func:`strfh5.optional.require`; the message names the package, what needed it and the
    ``pip install 'strfh5[extra]'`` line that brings it.  Also an :class:`ImportError`.
    """


class MetricError(StrfH5Error, ValueError):
    """Arguments of a quality or performance metric (strfh5.metrics) with incompatible shapes or values."""
