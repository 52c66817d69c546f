"""Names shared by the NWB export (:mod:`strfh5.nwb_export`) and the NWB converter (``converters/nwb.py``).

An exported NWB file lays the presentations of a strfh5 file end to end on a
synthetic timeline (see :mod:`strfh5.nwb_export`); these are the names of the
NWB objects and columns that carry that layout, so that converting the export
back finds them.
"""

from __future__ import annotations

import json
import re
from typing import Any

__all__ = [
    "NOTES_KEY", "PRESENTATIONS", "COL_STIMULUS", "COL_STIMULUS_INDEX", "COL_REPEAT", "COL_WINDOW_START",
    "COL_WINDOW_STOP", "UNIT_NAME", "UNIT_TIMES_MS", "UNIT_METADATA", "PROCESSING", "BINNED_SERIES", "NEURONS_TABLE", "COL_PRESENTATIONS",
    "STIMULUS_COLUMNS", "template_name", "read_notes", "TEMPLATE_KEY",
]

#: key of the JSON object in ``NWBFile.notes`` that records the export (format facts, timeline, metadata)
NOTES_KEY = "strfh5_export"
#: the presentations table (an NWB ``TimeIntervals`` under ``/intervals``)
PRESENTATIONS = "presentations"
COL_STIMULUS = "stimulus"  # stimulus id (= the stimulus template's name, see template_name)
COL_STIMULUS_INDEX = "stimulus_index"  # row of the stimulus in the strfh5 file
COL_REPEAT = "repeat"  # repeat number of the stimulus, from 0
COL_WINDOW_START = "window_start_time"  # the span of spikes kept around the presentation, s
COL_WINDOW_STOP = "window_stop_time"
#: units table columns: the strfh5 neuron id, exact relative spike times (ms), the neuron's metadata (JSON)
UNIT_NAME = "unit_name"
UNIT_TIMES_MS = "strfh5_times_ms"
UNIT_METADATA = "strfh5_metadata"
#: binned files: processing module and the TimeSeries of the responses (samples x neurons)
PROCESSING = "strfh5"
BINNED_SERIES = "binned_responses"
NEURONS_TABLE = "neurons"  # binned files: one row per neuron (column of BINNED_SERIES)
COL_PRESENTATIONS = "presentations"  # ragged: presentation rows in which the neuron was recorded
#: key of the JSON object in a stimulus template's ``comments``
TEMPLATE_KEY = "strfh5"

#: column names a presentations table commonly uses for the stimulus (searched in this order)
STIMULUS_COLUMNS = ("stimulus", "stimulus_name", "stim_name", "stim_id", "stimulus_id", "sound", "stimulus_file",
                    "stim")

_BAD = re.compile(r"[/:]")


def template_name(stim_id: str) -> str:
    """The NWB object name of a stimulus template: the id, with ``/`` and ``:`` (not allowed) as ``_``."""
    return _BAD.sub("_", str(stim_id))


def read_notes(text: Any) -> dict | None:
    """The export record stored in ``NWBFile.notes``, or None when the notes do not hold one."""
    if not isinstance(text, str) or NOTES_KEY not in text:
        return None
    try:
        doc = json.loads(text)
    except ValueError:
        return None
    rec = doc.get(NOTES_KEY) if isinstance(doc, dict) else None
    return rec if isinstance(rec, dict) else None
