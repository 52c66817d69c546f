"""Converters from public releases to strfh5 files.

Converters are found through the entry-point group ``strfh5.converters``: each
entry point is named for a source id (as typed on the command line,
``strfh5 convert SOURCE``) and points at the module (or object) holding that
source's ``SOURCE`` and ``convert``.  strfh5 registers its built-in
converters this way in its own ``pyproject.toml``, and any installed package
can add sources the same way without editing strfh5 (``converters/README.md``,
"Adding a source as a separate package").

:data:`SOURCES` maps each source id to its entry point's value
(``"strfh5.converters.crcns_aa1"``); it is discovered on first use, and
:func:`refresh` discovers again (after installing a package in a running
interpreter).  Listing never imports a converter: a broken plug-in shows up
as a :class:`~strfh5.errors.ConverterError` naming its entry point when it is
used (:func:`get_converter`).
"""

from __future__ import annotations

import warnings
from collections.abc import MutableMapping
from importlib import import_module
from importlib.metadata import EntryPoint, entry_points
from types import ModuleType
from typing import Iterator

from strfh5.errors import ConverterError
from .base import check_options

__all__ = ["GROUP", "SOURCES", "get_converter", "convert", "refresh", "entry_point"]

#: the entry-point group converters register in
GROUP = "strfh5.converters"


def _origin(ep: EntryPoint) -> str:
    dist = getattr(ep, "dist", None)
    where = f", distribution {dist.name} {dist.version}" if dist is not None else ""
    return f"entry point '{ep.name} = {ep.value}' (group {GROUP}{where})"


def _builtin(ep: EntryPoint) -> bool:
    dist = getattr(ep, "dist", None)
    return dist is not None and dist.name == "strfh5"


def _discover() -> dict[str, EntryPoint]:
    """Every converter entry point installed, one per source id (strfh5's own first, then in path order)."""
    found: dict[str, EntryPoint] = {}
    for ep in sorted(entry_points(group=GROUP), key=lambda ep: not _builtin(ep)):
        kept = found.setdefault(ep.name, ep)
        if kept is not ep and kept.value != ep.value:
            warnings.warn(f"two converters are registered for source {ep.name!r}: {_origin(kept)} is used, "
                          f"{_origin(ep)} is ignored; uninstall one of them", stacklevel=3)
    if not found:
        warnings.warn(f"no converter is registered in the entry-point group {GROUP!r}: strfh5's installation "
                      "metadata predates entry-point discovery or is damaged; reinstall strfh5 "
                      "(pip install -e . in a checkout)", stacklevel=3)
    return found


class _Sources(MutableMapping):
    """Source id -> entry-point value, discovered on first use (a plain mapping otherwise)."""

    def __init__(self):
        self._eps: dict[str, EntryPoint] | None = None
        self._values: dict[str, str] = {}

    def _load(self) -> dict[str, str]:
        if self._eps is None:
            self._eps = _discover()
            self._values = {name: ep.value for name, ep in self._eps.items()}
        return self._values

    def entry_point(self, source_id: str) -> EntryPoint:
        value = self._load()[source_id]
        ep = self._eps.get(source_id)
        if ep is None or ep.value != value:  # an entry set by hand (tests, scripts)
            ep = EntryPoint(name=source_id, value=value, group=GROUP)
        return ep

    def refresh(self) -> None:
        self._eps = None
        self._load()

    def __getitem__(self, key: str) -> str:
        return self._load()[key]

    def __setitem__(self, key: str, value: str) -> None:
        self._load()[key] = value

    def __delitem__(self, key: str) -> None:
        del self._load()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._load())

    def __len__(self) -> int:
        return len(self._load())

    def __repr__(self) -> str:
        return f"SOURCES({self._load()!r})"


#: source id -> converter module path (``"module"`` or ``"module:attribute"``)
SOURCES = _Sources()


def refresh() -> None:
    """Discover the installed converters again (e.g. after ``pip install`` of a plug-in)."""
    SOURCES.refresh()


def entry_point(source_id: str) -> EntryPoint:
    """The entry point registered for ``source_id``.

    Raises
    ------
    ConverterError
        For an unknown source id, listing the known ones.
    """
    try:
        return SOURCES.entry_point(source_id)
    except KeyError:
        raise ConverterError(
            f"unknown source {source_id!r}; known sources: {', '.join(sorted(SOURCES)) or '(none)'}"
        ) from None


def _load(ep: EntryPoint):
    module, _, attr = ep.value.partition(":")
    obj = import_module(module)
    for part in filter(None, attr.strip().split(".")):
        obj = getattr(obj, part)
    return obj


def get_converter(source_id: str) -> ModuleType:
    """The converter of ``source_id``: the object holding its ``SOURCE`` and ``convert``.

    Raises
    ------
    ConverterError
        For an unknown source id; for an entry point that cannot be imported
        (the message names the entry point, its distribution and the error); for
        a converter that does not follow the contract (``SOURCE.id`` equal to
        the source id, a callable ``convert``).
    """
    ep = entry_point(source_id)
    try:
        mod = _load(ep)
    except Exception as e:  # any failure of third-party code is reported, named, as one error
        raise ConverterError(f"converter {source_id!r} cannot be loaded from {_origin(ep)}: "
                             f"{type(e).__name__}: {e}") from e
    info = getattr(mod, "SOURCE", None)
    if getattr(info, "id", None) != source_id or not callable(getattr(mod, "convert", None)):
        raise ConverterError(
            f"converter {source_id!r} from {_origin(ep)} does not follow the converter contract: it needs "
            f"SOURCE (a SourceInfo with id {source_id!r}; found {getattr(info, 'id', info)!r}) and a callable "
            "convert(raw_dir, out_path, *, overwrite=False, **options)"
        )
    return mod


def convert(source_id: str, raw_dir, out_path, **options):
    """Convert the release of ``source_id`` unpacked in ``raw_dir`` to ``out_path``."""
    mod = get_converter(source_id)
    overwrite = bool(options.pop("overwrite", False))
    return mod.convert(raw_dir, out_path, overwrite=overwrite, **check_options(mod.SOURCE, options))
