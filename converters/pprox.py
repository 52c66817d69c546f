"""Reading Meliza-lab **pprox** files (point-process JSON), both schemas.

A pprox file is one JSON document per unit: top-level keys are unit metadata
and ``pprox`` is an array of trials (point processes). Two schemas occur in
public releases (Le, Bjoring & Meliza 2025 uses both):

``https://meliza.org/spec:2/pprox.json#`` (the *legacy* schema here)
    A trial names its stimulus with a string (``stimulus``, optionally a
    ``condition``) and gives the stimulus onset as a number (``stim_on`` /
    ``stimulus_on``, offset ``stim_off`` / ``stimulus_off``). The pprox
    specification puts event times in seconds under ``events``; the Le 2025
    cohort-1 files instead store them in **milliseconds** under ``event``
    (singular) with ``stim_on``/``stim_off`` in milliseconds too. The key name
    tells which: ``event`` → ms, ``events`` → s.
``https://meliza.org/spec:2/stimtrial.json#`` (*stimtrial*)
    Every trial has ``events`` (s), ``interval`` (trial window, s) and
    ``stimulus: {name, interval}`` whose interval is when the stimulus played,
    in the same time frame as the events (both relative to the trial's
    ``offset``).

The schema is detected from the document itself: its ``$schema`` when
present (``stimtrial`` or ``pprox``), otherwise the shape of the trials
(a ``stimulus`` map → stimtrial; a ``stimulus`` string → legacy). A document
whose ``$schema`` and trials disagree is refused.

Every trial's spike times are returned in **ms relative to stimulus onset**
(pre-onset spikes negative, nothing dropped), which is what an ``events``
strfh5 file stores.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from strfh5.errors import RawDataError

__all__ = ["PPROX_SCHEMA", "STIMTRIAL_SCHEMA", "Trial", "PproxUnit", "read_pprox", "parse_pprox", "detect_schema"]

#: schema tags returned by :func:`detect_schema`
PPROX_SCHEMA = "pprox"
STIMTRIAL_SCHEMA = "stimtrial"

_TRIAL_RESERVED = {
    "event", "events", "stimulus", "condition", "stim_on", "stim_off", "stimulus_on", "stimulus_off",
    "interval", "offset", "index", "marks",
}


@dataclass
class Trial:
    """One stimulus presentation of one unit.

    Attributes
    ----------
    stimulus : str
        Stimulus name as written in the file (``stimulus`` string for the
        legacy schema, ``stimulus.name`` for stimtrial).
    condition : str or None
        The legacy schema's ``condition`` (stimulus variant), if any.
    times_ms : ndarray of float64
        Spike times in ms relative to stimulus onset, in file order.
    index : int or None
        The trial's ``index`` (presentation order) when given.
    window_ms : tuple of float or None
        The recorded window (``interval``) relative to stimulus onset, ms.
    stim_duration_ms : float or None
        Stimulus duration from the onset/offset fields, ms.
    extra : dict
        The trial's other keys (JSON values), kept for provenance.
    """

    stimulus: str
    condition: str | None
    times_ms: np.ndarray
    index: int | None = None
    window_ms: tuple[float, float] | None = None
    stim_duration_ms: float | None = None
    extra: dict = field(default_factory=dict)


@dataclass
class PproxUnit:
    """A parsed pprox document: unit metadata and its trials."""

    path: str
    schema: str  # PPROX_SCHEMA or STIMTRIAL_SCHEMA
    schema_uri: str | None
    meta: dict  # top-level keys other than "pprox"
    trials: list[Trial]

    def by_stimulus(self, key=None) -> dict[str, list[Trial]]:
        """Trials grouped by stimulus (``key(trial)`` → name; default
        ``trial.stimulus``), each group in presentation order (``index`` when
        every trial has one, else file order)."""
        key = key or (lambda t: t.stimulus)
        out: dict[str, list[Trial]] = {}
        for t in self.ordered_trials():
            out.setdefault(key(t), []).append(t)
        return out

    def ordered_trials(self) -> list[Trial]:
        if self.trials and all(t.index is not None for t in self.trials):
            return sorted(self.trials, key=lambda t: t.index)  # stable for equal indices
        return list(self.trials)


def read_pprox(path: os.PathLike | str) -> PproxUnit:
    """Read and parse one pprox JSON file (either schema)."""
    p = Path(path)
    try:
        with open(p, "rb") as fh:
            doc = json.loads(fh.read().decode("utf-8"))
    except FileNotFoundError:
        raise
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise RawDataError(f"{p}: not a pprox JSON document ({e})") from None
    return parse_pprox(doc, str(p))


def detect_schema(doc: Any, where: str = "pprox document") -> str:
    """Return :data:`PPROX_SCHEMA` or :data:`STIMTRIAL_SCHEMA` for a parsed document."""
    if not isinstance(doc, dict) or not isinstance(doc.get("pprox"), list):
        raise RawDataError(f"{where}: expected a JSON object with a 'pprox' array of trials (pprox collection)")
    uri = doc.get("$schema")
    trials = doc["pprox"]
    shapes = set()
    for t in trials:
        if isinstance(t, dict) and "stimulus" in t:
            shapes.add(STIMTRIAL_SCHEMA if isinstance(t["stimulus"], dict) else PPROX_SCHEMA)
    declared = None
    if isinstance(uri, str):
        low = uri.lower()
        if "stimtrial" in low:
            declared = STIMTRIAL_SCHEMA
        elif "pprox" in low:
            declared = PPROX_SCHEMA
        else:
            raise RawDataError(
                f"{where}: unknown $schema {uri!r}; expected https://meliza.org/spec:2/pprox.json# "
                "or https://meliza.org/spec:2/stimtrial.json#"
            )
    if len(shapes) > 1:
        raise RawDataError(f"{where}: trials mix stimulus strings and stimulus maps (two pprox schemas in one file)")
    shape = next(iter(shapes)) if shapes else None
    if declared is not None and shape is not None and declared != shape:
        raise RawDataError(
            f"{where}: $schema {uri!r} says {declared} but its trials have the {shape} shape "
            f"({'a stimulus map' if shape == STIMTRIAL_SCHEMA else 'a stimulus string'})"
        )
    result = declared or shape
    if result is None:
        raise RawDataError(f"{where}: cannot tell the pprox schema: no $schema and no trial names a stimulus")
    return result


def _number(v, where: str) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise RawDataError(f"{where}: expected a finite number, got {v!r}")
    return float(v)


def _times(v, where: str) -> np.ndarray:
    if not isinstance(v, list):
        raise RawDataError(f"{where}: expected an array of event times, got {type(v).__name__}")
    odd = next((x for x in v if isinstance(x, bool) or not isinstance(x, (int, float))), None)
    if odd is not None:  # a JSON string such as "1_0.5" would otherwise be read by numpy as 10.5
        raise RawDataError(f"{where}: event times must be JSON numbers, got {odd!r}")
    try:
        a = np.asarray(v, dtype=np.float64)
    except (TypeError, ValueError):
        raise RawDataError(f"{where}: event times must be numbers") from None
    if a.ndim != 1:
        raise RawDataError(f"{where}: event times must be a flat array, got shape {a.shape}")
    if a.size and not np.all(np.isfinite(a)):
        raise RawDataError(f"{where}: event times contain NaN or Inf")
    return a


def _interval(v, where: str) -> tuple[float, float]:
    if not isinstance(v, list) or len(v) != 2:
        raise RawDataError(f"{where}: expected an interval [start, end], got {v!r}")
    a, b = _number(v[0], where), _number(v[1], where)
    return a, b


def _index(t: dict, where: str) -> int | None:
    i = t.get("index")
    if i is None:
        return None
    if isinstance(i, bool) or not isinstance(i, (int, float)) or float(i) != int(i):
        raise RawDataError(f"{where}: 'index' must be an integer, got {i!r}")
    return int(i)


def _extra(t: dict) -> dict:
    return {k: v for k, v in t.items() if k not in _TRIAL_RESERVED}


def _legacy_trial(t: dict, where: str) -> Trial:
    stim = t.get("stimulus")
    if not isinstance(stim, str) or not stim:
        raise RawDataError(f"{where}: 'stimulus' must be a non-empty string (legacy pprox schema)")
    cond = t.get("condition")
    if cond is not None and not isinstance(cond, str):
        raise RawDataError(f"{where}: 'condition' must be a string, got {cond!r}")
    if "event" in t and "events" in t:
        raise RawDataError(f"{where}: has both 'event' (ms) and 'events' (s); cannot tell the time unit")
    if "event" in t:  # Le 2025 cohort-1 files: times and onsets in ms
        scale, times = 1.0, _times(t["event"], f"{where} 'event'")
    elif "events" in t:  # the pprox spec: seconds
        scale, times = 1000.0, _times(t["events"], f"{where} 'events'")
    else:
        raise RawDataError(f"{where}: no 'event' or 'events' array of spike times")
    on_key = "stim_on" if "stim_on" in t else "stimulus_on" if "stimulus_on" in t else None
    if on_key is None:
        raise RawDataError(f"{where}: no stimulus onset ('stim_on' or 'stimulus_on')")
    onset = _number(t[on_key], f"{where} '{on_key}'")
    off_key = "stim_off" if "stim_off" in t else "stimulus_off" if "stimulus_off" in t else None
    dur = None
    if off_key is not None and t[off_key] is not None:
        dur = (_number(t[off_key], f"{where} '{off_key}'") - onset) * scale
    window = None
    if t.get("interval") is not None:
        a, b = _interval(t["interval"], f"{where} 'interval'")
        window = ((a - onset) * scale, (b - onset) * scale)
    return Trial(
        stimulus=stim,
        condition=cond,
        times_ms=(times - onset) * scale,
        index=_index(t, where),
        window_ms=window,
        stim_duration_ms=dur,
        extra=_extra(t),
    )


def _stimtrial_trial(t: dict, where: str) -> Trial:
    stim = t.get("stimulus")
    if not isinstance(stim, dict):
        raise RawDataError(f"{where}: 'stimulus' must be a map {{name, interval}} (stimtrial schema)")
    name = stim.get("name")
    if not isinstance(name, str) or not name:
        raise RawDataError(f"{where}: 'stimulus.name' must be a non-empty string")
    if "interval" not in stim:
        raise RawDataError(f"{where}: 'stimulus.interval' (when the stimulus played) is missing")
    on, off = _interval(stim["interval"], f"{where} 'stimulus.interval'")
    if "events" not in t:
        raise RawDataError(f"{where}: no 'events' array of spike times")
    times = _times(t["events"], f"{where} 'events'")
    window = None
    if t.get("interval") is not None:
        a, b = _interval(t["interval"], f"{where} 'interval'")
        window = ((a - on) * 1000.0, (b - on) * 1000.0)
    extra = _extra(t)
    more = {k: v for k, v in stim.items() if k not in ("name", "interval")}
    if more:
        extra["stimulus"] = more
    return Trial(
        stimulus=name,
        condition=None,
        times_ms=(times - on) * 1000.0,
        index=_index(t, where),
        window_ms=window,
        stim_duration_ms=(off - on) * 1000.0,
        extra=extra,
    )


def parse_pprox(doc: Any, path: str = "<pprox>") -> PproxUnit:
    """Parse a decoded pprox document (either schema); see the module docstring."""
    schema = detect_schema(doc, path)
    parse = _stimtrial_trial if schema == STIMTRIAL_SCHEMA else _legacy_trial
    trials = []
    for i, t in enumerate(doc["pprox"]):
        where = f"{path}: trial {i}"
        if not isinstance(t, dict):
            raise RawDataError(f"{where}: expected a JSON object, got {type(t).__name__}")
        trials.append(parse(t, where))
    meta = {k: v for k, v in doc.items() if k != "pprox"}
    uri = doc.get("$schema") if isinstance(doc.get("$schema"), str) else None
    return PproxUnit(path=path, schema=schema, schema_uri=uri, meta=meta, trials=trials)
