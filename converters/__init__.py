"""Converters from public releases to strfh5 files.

:data:`SOURCES` maps each source id (as typed on the command line,
``strfh5 convert SOURCE``) to the module that converts it; see
``converters/README.md`` for how to add a source.
"""

from __future__ import annotations

from importlib import import_module
from types import ModuleType

from strfh5.errors import ConverterError

#: source id -> converter module (relative to this package)
SOURCES: dict[str, str] = {
    "crcns-aa1": "crcns_aa1",
    "crcns-aa2": "crcns_aa2",
    "crcns-aa4": "crcns_aa4",
    "crcns-ac1": "crcns_ac1",
    "ns1": "ns1",
    "nat4": "nat4",
    "espejo": "espejo",
    "wingert2026": "wingert2026",
    "alice-eeg": "alice_eeg",
    "le2025": "le2025",
    "downer2025": "downer2025",
    "nwb": "nwb",
}


def get_converter(source_id: str) -> ModuleType:
    """The converter module of ``source_id`` (its ``SOURCE`` and ``convert``)."""
    try:
        modname = SOURCES[source_id]
    except KeyError:
        raise ConverterError(
            f"unknown source {source_id!r}; known sources: {', '.join(sorted(SOURCES))}"
        ) from None
    return import_module(f"{__name__}.{modname}")


def convert(source_id: str, raw_dir, out_path, **options):
    """Convert the release of ``source_id`` unpacked in ``raw_dir`` to ``out_path``."""
    from .base import check_options

    mod = get_converter(source_id)
    overwrite = bool(options.pop("overwrite", False))
    return mod.convert(raw_dir, out_path, overwrite=overwrite, **check_options(mod.SOURCE, options))
