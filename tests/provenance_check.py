"""What every converter's output must record to be traced back to its raw release (issue 15)."""

from __future__ import annotations

from strfh5.converters import get_converter
from strfh5.converters.base import VERIFICATION_LEVELS


def assert_provenance(meta: dict, source_id: str, options: dict | None = None) -> dict:
    """Check ``meta['provenance']`` of a converted file; return it.

    It must name the converter (id, library version, converter version, the options used), every release
    file with its pinned hash (or None), the converter's verification level, and the quirks (a list).
    """
    src = get_converter(source_id).SOURCE
    prov = meta["provenance"]
    conv = prov["converter"]
    assert conv["id"] == source_id and conv["version"].startswith("strfh5 ")
    assert conv["converter_version"] == src.version
    assert isinstance(conv["options"], dict) and set(conv["options"]) >= {o.name for o in src.options}
    for k, v in (options or {}).items():
        assert conv["options"][k] == v, (k, conv["options"][k], v)
    assert [(f["name"], f["known_hash"]) for f in prov["release_files"]] == \
        [(f.name, f.known_hash) for f in src.files]
    assert prov["verified"] == src.verified and prov["verified"] in VERIFICATION_LEVELS
    assert isinstance(prov["quirks"], list) and all({"kind", "message"} <= set(q) for q in prov["quirks"])
    assert meta["converter"] == conv  # the top-level record and the provenance agree
    return prov
