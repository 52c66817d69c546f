"""Concatenated files (SPEC §9) written with plain h5py, and the description of what they hold."""

from __future__ import annotations

import h5py
import numpy as np

from _writer import UTF8, CORE, jtext

WIDTH = {"f4": 0, "f8": 1, "u1": 0, "u2": 1, "u4": 2, "u8": 3}


def layout(sources: list[dict], merge: bool) -> tuple[list[np.ndarray], list[tuple[int, int]]]:
    """stim_rows per source, and (source, row) of the first source row held by each file row."""
    rows, first, by_id = [], [], {}
    for k, d in enumerate(sources):
        r = []
        for j, sid in enumerate(d["stim_ids"]):
            if merge and sid in by_id:
                r.append(by_id[sid])
                continue
            by_id.setdefault(sid, len(first))
            r.append(len(first))
            first.append((k, j))
        rows.append(np.array(r, dtype=np.int64))
    return rows, first


def describe(sources: list[dict], merge: bool, uuid: str) -> dict:
    """The description (``_writer.defaults`` keys) of the concatenated file's values."""
    rows, first = layout(sources, merge)
    S = len(first)
    nrn_off = np.cumsum([0] + [len(d["neuron_ids"]) for d in sources])
    N = int(nrn_off[-1])
    resp = [[None] * N for _ in range(S)]
    for k, d in enumerate(sources):
        for j, row in enumerate(rows[k]):
            for m in range(len(d["neuron_ids"])):
                resp[row][nrn_off[k] + m] = d["responses"][j][m]
    d0 = sources[0]
    pick = [sources[k] for k, _j in first]
    wide_t = max((d["time_dtype"] for d in sources), key=WIDTH.get)
    wide_c = max((d["count_dtype"] for d in sources), key=WIDTH.get)
    return dict(d0, uuid=uuid, concatenated=True, stims=[pick[i]["stims"][j] for i, (_k, j) in enumerate(first)],
                stim_ids=[pick[i]["stim_ids"][j] for i, (_k, j) in enumerate(first)],
                stim_meta=[pick[i]["stim_meta"][j] for i, (_k, j) in enumerate(first)],
                n_bins=[pick[i]["n_bins"][j] for i, (_k, j) in enumerate(first)],
                waveforms=[pick[i]["waveforms"][j] for i, (_k, j) in enumerate(first)],
                sample_rates=None if d0["sample_rates"] is None else
                [pick[i]["sample_rates"][j] for i, (_k, j) in enumerate(first)],
                neuron_ids=[x for d in sources for x in d["neuron_ids"]],
                nrn_meta=[x for d in sources for x in d["nrn_meta"]], responses=resp,
                time_dtype=wide_t, count_dtype=wide_c, file_meta=_meta(sources, merge, S, rows),
                transform=d0["transform"] if all(d["transform"] == d0["transform"] for d in sources) else None)


def _meta(sources, merge, S, rows) -> dict:
    ids = {}
    for d, r in zip(sources, rows):
        for sid, row in zip(d["stim_ids"], r):
            ids.setdefault(sid, set()).add(int(row))
    return {"source": "concat", "title": "conformance concatenation",
            "sources": [{"uuid": d["uuid"], "metadata": d["file_meta"], "transform": d["transform"]} for d in sources],
            "merge_stimuli": merge, "shared_stimulus_ids": sorted(i for i, r in ids.items() if len(r) > 1),
            "merged_stimulus_ids": sorted({i for d in sources[1:] for i in d["stim_ids"]
                                           if merge and i in sources[0]["stim_ids"]})}


def _runs(rows: np.ndarray) -> list[tuple[int, int, int]]:
    """(first source row, first file row, length) of each run of consecutive rows."""
    out = []
    for j, r in enumerate(rows.tolist()):
        if out and out[-1][1] + out[-1][2] == r and out[-1][0] + out[-1][2] == j:
            out[-1] = (out[-1][0], out[-1][1], out[-1][2] + 1)
        else:
            out.append((j, r, 1))
    return out


def write(path: str, sources: list[dict], paths: list[str], merge: bool, uuid: str, link_override=None,
          vds_names: list[str] | None = None, link_names: list[str] | None = None) -> dict:
    """Write a concatenated file of ``sources`` recorded as ``paths``; returns its description.

    ``vds_names`` / ``link_names`` replace the file names written in the
    virtual mappings / external links (to make files that break §9.3);
    ``link_override(stimuli_group)`` edits the links after they are written.
    """
    vds_names = vds_names or paths
    link_names = link_names or paths
    d = describe(sources, merge, uuid)
    rows, first = layout(sources, merge)
    S, N = len(d["stim_ids"]), len(d["neuron_ids"])
    nrn_off = np.cumsum([0] + [len(x["neuron_ids"]) for x in sources])
    ev = d["encoding"] == "events"
    with h5py.File(path, "w", libver=("v110", "v110")) as f:
        a = f.attrs
        for k in ("strfh5_format", "strfh5_version", "encoding", "modality", "stim_kind", "response_kind"):
            v = {"strfh5_format": "strfh5", "strfh5_version": d["version"]}.get(k, d.get(k))
            a.create(k, v, dtype=UTF8)
        for k, v in (("uuid", uuid), ("created_by", "strfh5-conformance 1"),
                     ("created_at", "2026-01-01T00:00:00+00:00"), ("schema_file", CORE.format("file")),
                     ("schema_stimulus", CORE.format("stimulus")), ("schema_neuron", CORE.format("neuron"))):
            a.create(k, v, dtype=UTF8)
        a["dt_ms"] = np.float64(d["dt_ms"])
        a["stim_dims"] = np.asarray(d["stim_dims"], dtype=np.int64)
        a["concatenated"] = np.bool_(True)
        f.create_dataset("metadata", data=jtext(d["file_meta"]), dtype=UTF8)
        st = f.create_group("stimuli")
        if d["transform"] is not None:
            st.attrs.create("transform", jtext(d["transform"]), dtype=UTF8)
        st.create_dataset("ids", data=np.array(d["stim_ids"], dtype=object), dtype=UTF8)
        st.create_dataset("metadata", data=np.array([jtext(m) for m in d["stim_meta"]], dtype=object), dtype=UTF8)
        st.create_dataset("n_bins", data=np.asarray(d["n_bins"], dtype=np.uint32))
        for i, (k, j) in enumerate(first):
            st[f"{i:06d}"] = h5py.ExternalLink(link_names[k], f"/stimuli/{j:06d}")
        if link_override:
            link_override(st)
        nr = f.create_group("neurons")
        nr.create_dataset("ids", data=np.array(d["neuron_ids"], dtype=object), dtype=UTF8)
        nr.create_dataset("metadata", data=np.array([jtext(m) for m in d["nrn_meta"]], dtype=object), dtype=UTF8)
        names = ["responses", "repeats"] + (["counts"] if ev else [])
        for name in names:
            if name == "repeats":
                dt = np.dtype(max((x["repeats_dtype"] for x in sources), key=WIDTH.get))
            elif name == "counts" or not ev and d["response_kind"] == "counts":
                dt = h5py.vlen_dtype(np.dtype(max((x["count_dtype"] for x in sources), key=WIDTH.get)))
            elif ev:
                dt = h5py.vlen_dtype(np.dtype(d["time_dtype"]))
            else:
                dt = h5py.vlen_dtype(np.dtype("f4"))
            lay = h5py.VirtualLayout(shape=(S, N), dtype=dt)
            for k, src in enumerate(sources):
                n_k = len(src["neuron_ids"])
                vs = h5py.VirtualSource(vds_names[k].replace("%", "%%"), name, shape=(len(src["stim_ids"]), n_k))
                for j0, r0, ln in _runs(rows[k]):
                    lay[r0:r0 + ln, nrn_off[k]:nrn_off[k] + n_k] = vs[j0:j0 + ln, :]
            f.create_virtual_dataset(name, lay, fillvalue=0 if name == "repeats" else None)
        sg = f.create_group("sources")
        sg.create_dataset("paths", data=np.array(paths, dtype=object), dtype=UTF8)
        sg.create_dataset("uuids", data=np.array([x["uuid"] for x in sources], dtype=object), dtype=UTF8)
        sg.create_dataset("stim_offsets", data=np.cumsum([0] + [len(r) for r in rows]).astype(np.int64))
        sg.create_dataset("stim_rows", data=np.concatenate(rows).astype(np.int64))
        sg.create_dataset("neuron_offsets", data=nrn_off.astype(np.int64))
    return d
