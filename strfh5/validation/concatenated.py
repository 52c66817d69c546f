"""Checks of links, virtual datasets and concatenated files' sources (SPEC.md §9).

Codes E801–E805: external links and virtual datasets are allowed only in a
concatenated file, soft links nowhere.  A concatenated file's sources are
checked by :func:`strfh5.h5io.sources.source_findings` (codes E901–E912) before
any of its links is followed or its virtual data read; then each source is
validated in turn, its findings naming the source file.
"""

from __future__ import annotations

import os
from typing import Any

import h5py

from .. import layout as L
from ..h5io import read_sources, source_findings
from ..terminal import escape_text
from .context import Context
from .report import ERROR, Finding
from .values import short

__all__ = ["check_links", "check_concatenation", "validate_sources"]

#: how deep concatenations of concatenations are followed
_MAX_DEPTH = 4


def check_links(ctx: Context) -> None:
    """External links, soft links and virtual datasets, without following any link (E801, E802, W803)."""
    found: list[tuple[str, Any]] = []

    def visit(name, info):
        found.append((name, info.type))

    ctx.f.id.links.visit(visit, info=True)
    hard = h5py.h5l.TYPE_HARD
    for raw, kind in found:
        name = ctx.f._d(raw)
        p = "/" + name
        if kind == hard:
            if _plain_object(ctx, raw):
                continue
            link = h5py.HardLink()
        else:
            link = ctx.f.get(name, getlink=True)
        if isinstance(link, h5py.ExternalLink):
            if not ctx.concatenated:
                ctx.add("E801", p, f"external link to '{link.filename}:{link.path}': a file that is not "
                                   "concatenated must be self-contained (the link is not followed)")
        elif isinstance(link, h5py.SoftLink):
            ctx.add("W803", p, f"soft link to '{link.path}': the format defines no soft links; "
                               "readers do not follow it")
        elif isinstance(link, h5py.HardLink):
            obj = ctx.guard("links", p, ctx.f.get, name)
            if isinstance(obj, h5py.Dataset) and obj.is_virtual and not ctx.concatenated:
                srcs = ctx.guard("links", p, obj.virtual_sources) or []
                files = sorted({s.file_name for s in srcs})
                ctx.add("E802", p, f"virtual dataset (sources: {short(files)}) in a file that is not "
                                   "concatenated; its data are not read")


def _plain_object(ctx: Context, name: bytes) -> bool:
    """True when the hard link ``name`` opens (low-level) to a group, a named datatype or a dataset that is not
    virtual: nothing to report. False sends it through the h5py objects, which word any finding."""
    try:
        oid = h5py.h5o.open(ctx.f.id, name)
        if isinstance(oid, h5py.h5d.DatasetID):
            return oid.get_create_plist().get_layout() != h5py.h5d.VIRTUAL
        return isinstance(oid, (h5py.h5g.GroupID, h5py.h5t.TypeID))
    except Exception:  # noqa: BLE001 - the h5py path reports it (E020)
        return False


def check_concatenation(ctx: Context) -> None:
    """The sources of a concatenated file (E804, E9xx); sets ``ctx.sources_ok`` and validates them."""
    results = source_findings(ctx.f, ctx.path)
    any_error = False
    for item in results:
        code, severity, check, obj_path, message = item
        ctx.add(str(code), str(obj_path), str(message), severity=str(severity), check=str(check))
        any_error |= severity == ERROR
    if any_error:
        ctx.add("E804", "/", "the sources of this concatenated file failed their checks (see above); "
                             "its virtual data and linked stimuli were not read")
        return
    ctx.sources_ok = True
    ctx.guard("links", f"/{L.SOURCE_PATHS}", validate_sources, ctx)


def validate_sources(ctx: Context) -> None:
    """Validate each source file once (E805 when the source list cannot be read)."""
    try:
        recs = read_sources(ctx.f, ctx.path, allow_external=True)
    except Exception as e:  # noqa: BLE001
        ctx.add("E805", f"/{L.SOURCES}", f"the source list cannot be read ({type(e).__name__}: {e}); "
                                         "sources not validated")
        return
    for rec in recs:
        key = os.path.realpath(rec.resolved)
        if key in ctx.seen or ctx.depth >= _MAX_DEPTH:
            continue
        ctx.seen.add(key)
        sub = type(ctx)(rec.resolved, ctx.checksums, ctx.depth + 1, ctx.seen)  # the validator itself, one level down
        sub.run()
        for fd in sub.findings:
            ctx.findings.append(Finding(fd.code, fd.severity, fd.check, fd.path, fd.message,
                                        fd.file or escape_text(rec.path, keep_newlines=False)))
