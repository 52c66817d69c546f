"""The table of validation finding codes (SPEC.md Appendix A).

Every finding :func:`strfh5.validate` can report has a stable code listed
here with the check that reports it and a one-line summary.  SPEC.md
Appendix A is the prose form of :data:`CODES`; ``tests/test_spec.py`` keeps
the two identical.  A code is never reused for another meaning.
"""

from __future__ import annotations

__all__ = ["CODES", "UNREADABLE"]

#: Every finding code: ``code -> (check, summary)``.  The first letter gives the
#: severity (``E`` error, ``W`` warning).  SPEC.md Appendix A is the prose form
#: of this table; codes are stable: a code is never reused for another meaning.
CODES: dict[str, tuple[str, str]] = {
    # file and version (SPEC §1, §2)
    "E001": ("file", "the path does not exist, is a folder, or is not a regular file"),
    "E002": ("file", "not an HDF5 file (no HDF5 signature)"),
    "E003": ("file", "HDF5 signature present but the file cannot be opened"),
    "E010": ("format", "root attribute strfh5_format missing or not 'strfh5'"),
    "E011": ("version", "root attribute strfh5_version missing"),
    "E012": ("version", "strfh5_version is not a 'MAJOR.MINOR' string"),
    "E013": ("version", "major format version newer than this library reads"),
    "E014": ("version", "major format version 0 (before 1.0)"),
    "W015": ("version", "minor format version newer than this library: unknown objects ignored"),
    "E020": ("internal", "an object could not be read or a check could not complete (HDF5 error)"),
    # root attributes (SPEC §3.1)
    "E101": ("root-attributes", "required root attribute missing"),
    "E102": ("root-attributes", "root attribute has the wrong HDF5 type or shape"),
    "E103": ("root-attributes", "root attribute value not allowed"),
    "E104": ("root-attributes", "modality does not match stim_kind"),
    "E105": ("root-attributes", "response_kind does not fit encoding"),
    "W106": ("root-attributes", "unknown root attribute (ignored by readers)"),
    # structure (SPEC §3.2, §4-§7)
    "E201": ("structure", "required group, dataset or attribute missing"),
    "E202": ("structure", "object of the wrong kind (group/dataset/link)"),
    "E203": ("structure", "dataset or attribute has the wrong datatype"),
    "E204": ("structure", "dataset has the wrong shape (S, N inconsistent)"),
    "W205": ("structure", "unknown object (ignored by readers)"),
    "E206": ("structure", "/stimuli@count differs from the number of stimuli"),
    "W207": ("structure", "string table stored as fixed-length strings (variable-length recommended)"),
    "E208": ("structure", "/repeats fill value is not 0"),
    "W209": ("structure", "/counts present in a binned file (ignored)"),
    "W210": ("structure", "integer data not stored in the smallest unsigned type that holds them"),
    # ids (SPEC §5.1, §6)
    "E301": ("ids", "duplicate stimulus id"),
    "E302": ("ids", "duplicate neuron id"),
    # stimuli (SPEC §5)
    "E401": ("stimuli", "stimulus group missing for an index 0..S-1"),
    "E402": ("stimuli", "stimulus group beyond S-1 or with a non-canonical name"),
    "E403": ("stimuli", "stimulus group without its data dataset"),
    "E404": ("stimuli", "stimulus data not a floating-point type"),
    "E405": ("stimuli", "stimulus shape inconsistent with stim_kind / stim_dims"),
    "E406": ("stimuli", "stimulus time axis differs from n_bins (spectrogram/video)"),
    "E407": ("stimuli", "NaN or Inf in stimulus data"),
    "E408": ("stimuli", "stimulus data cannot be read (checksum or filter failure)"),
    "E409": ("stimuli", "sample_rate missing or not a positive number"),
    "E410": ("stimuli", "kept source waveform malformed (shape, type, NaN/Inf)"),
    "W411": ("stimuli", "stimulus stored without the recommended gzip+shuffle+fletcher32 filters"),
    "E412": ("stimuli", "stimulus stored with a filter outside HDF5's built-in set"),
    "W413": ("stimuli", "spectrogram file without /stimuli@transform"),
    # responses (SPEC §4)
    "E501": ("responses", "binned element length differs from repeats x n_bins"),
    "E502": ("responses", "non-empty element where repeats = 0"),
    "E503": ("responses", "events: number of per-repeat counts differs from repeats"),
    "E504": ("responses", "events: per-repeat counts do not sum to the number of spike times"),
    "E505": ("responses", "NaN or Inf spike time"),
    "E506": ("responses", "Inf in a continuous signal (NaN marks bad samples, Inf is not allowed)"),
    "E507": ("responses", "a response row cannot be read"),
    # integrity (SPEC §7)
    "E601": ("integrity", "row digest mismatch: stored data differ from what was written"),
    "E602": ("integrity", "digest algorithm attribute missing or unknown"),
    "W603": ("integrity", "digests not verifiable in this file (verified in its sources)"),
    # response byte-range index (SPEC §7.2; readers verify it and fall back to HDF5)
    "E604": ("index", "response index malformed: layout attribute, table missing or of the wrong shape or type"),
    "E605": ("index", "response index entry outside the file or of another length than the repeats imply"),
    "E606": ("index", "response index entry does not point at the stored payload (checked with checksums)"),
    "W607": ("index", "response index in a concatenated file (its rows live in the sources; ignored)"),
    # metadata (SPEC §8)
    "E701": ("metadata", "metadata is not valid UTF-8 strict JSON"),
    "E702": ("metadata", "metadata record is not a JSON object"),
    "E703": ("metadata", "metadata record fails its schema"),
    "E704": ("metadata", "schema id not shipped with this library"),
    # links and concatenation (SPEC §9)
    "E801": ("links", "external link in a file that is not concatenated"),
    "E802": ("links", "virtual dataset in a file that is not concatenated"),
    "W803": ("links", "soft link (the format defines none)"),
    "E804": ("links", "concatenated file's data not checked (sources failed their checks, or strfh5.virtual unavailable)"),
    "E805": ("links", "source list of a concatenated file cannot be read"),
    # concatenation checks reported by strfh5.h5io.sources.source_findings (SPEC §9)
    "E901": ("sources", "source path absolute or leaving the concatenated file's folder"),
    "E902": ("sources", "source file missing"),
    "E903": ("sources", "source is not a regular file (folder, FIFO, device)"),
    "E904": ("sources", "source is not an HDF5 strfh5 file of a major version this library reads"),
    "E905": ("sources", "source UUID differs from the one recorded (source replaced)"),
    "E906": ("sources", "source datasets missing or of another shape or dtype than mapped"),
    "E907": ("sources", "virtual dataset missing, not virtual, or mapping an unrecorded source"),
    "E908": ("sources", "external link not to a recorded source's stimulus group, or stimulus links missing"),
    "E909": ("sources", "/sources tables missing or inconsistent"),
    "E910": ("sources", "source is itself a concatenated file"),
    "E911": ("sources", "virtual dataset or external link in a source that is not concatenated"),
    "E912": ("sources", "HDF5_VDS_PREFIX / HDF5_EXT_PREFIX set: sources would resolve elsewhere"),
}

#: codes meaning the file could not be read at all (exit code 2)
UNREADABLE = ("E001", "E002", "E003")
