"""The I/O layer: the only place the read path calls h5py.

It opens files (with the marker, version, source and link checks), reads the
tables, one stimulus, and one raw response row ``(stimulus, neurons) ->
RawRow`` — the single primitive eager and lazy reading share.

Modules: :mod:`~strfh5.h5io.values` (strings, JSON), :mod:`~strfh5.h5io.sources`
(SPEC §9.3–§9.4 path and link policy), :mod:`~strfh5.h5io.opening`,
:mod:`~strfh5.h5io.handle` (per-process handles), :mod:`~strfh5.h5io.tables`,
:mod:`~strfh5.h5io.stimuli`, :mod:`~strfh5.h5io.rows`, :mod:`~strfh5.h5io.structure`
(whole-file checks for ``info`` and on-disk ``concat``), :mod:`~strfh5.h5io.heaps`
(the global heap objects of whatever is about to be read, checked before HDF5 follows them).
"""

from .handle import FileHandle
from .opening import check_version, open_file
from .rows import check_row, read_elements, read_raw_row, read_vlen_row
from .sources import SourceRecord, check_sources, read_sources, resolve_source_path, source_findings
from .stimuli import check_stimulus, counts_dtype, has_waveform, read_sample_rate, read_stimulus, read_waveform, \
    response_dtype, waveform_summary
from .structure import check_counts, check_response_descriptors, check_stimuli
from .tables import read_info, read_repeats, read_tables
from .values import attr_str, read_json, read_json_table, read_strings

__all__ = [
    "FileHandle",
    "open_file",
    "check_version",
    "read_info",
    "read_tables",
    "read_repeats",
    "read_stimulus",
    "check_stimulus",
    "check_stimuli",
    "check_counts",
    "check_response_descriptors",
    "read_waveform",
    "has_waveform",
    "waveform_summary",
    "read_sample_rate",
    "response_dtype",
    "counts_dtype",
    "read_raw_row",
    "read_elements",
    "read_vlen_row",
    "check_row",
    "check_sources",
    "source_findings",
    "read_sources",
    "resolve_source_path",
    "SourceRecord",
    "attr_str",
    "read_json",
    "read_json_table",
    "read_strings",
]
