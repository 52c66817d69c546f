"""``strfh5 sources [--json]``: the public releases strfh5 converts."""

from __future__ import annotations

import json

HELP = "list the public releases strfh5 can fetch and convert"
#: short labels of the verification levels, strongest first
_LABELS = {"release_files": "real release files", "real_sample": "real sample",
           "reference_reader": "reference reader only"}


def register(subparsers) -> None:
    p = subparsers.add_parser("sources", help=HELP, description=(
        HELP + " (id, citation, DOI, access terms, and how each converter was verified: real release files, a "
        "real sample, or the reference readers only)."))
    p.add_argument("--json", action="store_true", help="print one JSON document")
    p.set_defaults(func=run)


def describe(source_id: str) -> dict:
    """A JSON-ready record of one source (``available: False`` when its converter cannot be imported).

    ``verified`` says how the converter was checked against real data (one
    of ``VERIFICATION_LEVELS``: real release files, a real sample, or the
    reference readers only) and ``verification`` what the check was.
    """
    from ..converters import get_converter
    from ..converters.base import VERIFICATION_LEVELS
    from ..errors import ConverterError

    try:
        info = get_converter(source_id).SOURCE
    except (ConverterError, ImportError) as e:  # a broken plug-in is listed, not fatal
        return {"id": source_id, "available": False, "reason": str(e)}
    return {
        "id": info.id,
        "available": True,
        "title": info.title,
        "citation": info.citation,
        "doi": info.doi,
        "license": info.license,
        "access": info.access,
        "species": info.species,
        "homepage": info.homepage,
        "verified": info.verified,
        "verified_meaning": VERIFICATION_LEVELS.get(info.verified, "unknown level"),
        "verification": info.verification,
        "converter_version": info.version,
        "waveforms": waveform_cost(info),
        "files": [{"name": f.name, "url": f.url, "known_hash": f.known_hash, "size": f.size,
                   "credentials": f.credentials, "optional": f.optional} for f in info.files],
        "options": [{"name": o.name, "type": getattr(o.type, "__name__", str(o.type)), "default": o.default,
                     "choices": list(o.choices) if o.choices else None, "multiple": o.multiple, "help": o.help}
                    for o in info.options],
    }


def waveform_cost(info) -> str | None:
    """What keeping the release's waveforms costs per second of sound (None: the converter keeps none)."""
    opts = {o.name: o for o in info.options}
    if "keep_waveform" not in opts:
        return None
    default = "kept by default" if opts["keep_waveform"].default else "left out by default (--keep-waveform)"
    if not info.audio:
        return f"{default}; 2 bytes per sample for 16-bit PCM sounds (int16 + scale), 4 for float sounds"
    sr, bits, kind = info.audio
    per_s = sr * (2 if kind == "int" else 4)
    spec = ""
    if "n_bands" in opts and "dt_ms" in opts:
        spec_s = opts["n_bands"].default * 1000.0 / opts["dt_ms"].default * 4
        spec = f" (the default spectrogram: {spec_s / 1000:.0f} kB/s)"
    stored = "int16 + scale" if kind == "int" else f"float{bits}"
    return (f"{default}; {sr:g} Hz {bits}-bit {kind} sounds stored as {stored}: {per_s / 1000:.0f} kB per second "
            f"of sound before compression{spec}")


def run(args) -> int:
    from ..converters import SOURCES

    records = [describe(s) for s in SOURCES]
    if args.json:
        print(json.dumps(records, indent=2, default=str))
        return 0
    for r in records:
        if not r["available"]:
            print(f"{r['id']}: converter not available ({r['reason']})\n")
            continue
        print(f"{r['id']}: {r['title']}")
        print(f"  access:   {r['access']}")
        print(f"  citation: {r['citation']}")
        print(f"  doi:      {r['doi']}   licence: {r['license']}")
        print(f"  verified: {_LABELS.get(r['verified'], r['verified'])} — {r['verification']}")
        if r.get("waveforms"):
            print(f"  waveforms: {r['waveforms']}")
        print()
    return 0
