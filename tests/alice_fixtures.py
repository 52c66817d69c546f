"""A miniature Alice EEG release in the published layout, FIF files written with mne.

``make_release(root)`` writes ``eeg.0/eeg/S01/S01_alice-raw.fif`` and
``eeg.1/eeg/S02/...`` (EEG channels plus a stim and an EOG channel, a
non-zero ``first_samp``, annotations '1'..'3' at the segment onsets, a
``BAD_`` span, a bad channel), ``stimuli/{1,2,3}.wav`` and the word table.
EEG channel ``c`` of subject ``j`` is ``AMP * sin(2 pi f_c t + phase_j)``
volts, t in s from the first sample, so any resampled value can be checked
against the formula.
"""

from __future__ import annotations

import datetime
from pathlib import Path

import numpy as np
from scipy.io import wavfile

FS = 250.0
FIRST_SAMP = 1250  # the recording starts 5 s after the measurement start
AMP = 20e-6
FREQS = [2.0, 3.0, 5.0, 1.5]
EEG = ["Fp1", "Fz", "Cz", "Pz"]
SEG_DUR = {1: 1.2, 2: 0.9, 3: 1.5}
WAV_FS = 44100
SUBJECTS = {
    # subject: (folder shard, segment onsets s from first sample, bad channels, BAD span (onset, dur), phase)
    "S01": ("eeg.0", {1: 2.0, 2: 4.0, 3: 6.5}, ["Cz"], (4.3, 0.2), 0.0),
    "S02": ("eeg.1", {1: 1.004, 2: 3.5, 3: 8.2}, [], (2.0, 0.5), 0.7),  # segment 3 runs past the end
}
DURATION = 9.0  # s of data per subject


def signal(subject: str, ch: int, t):
    return AMP * np.sin(2 * np.pi * FREQS[ch] * np.asarray(t) + SUBJECTS[subject][4])


def make_release(root, drop_annotation: tuple[str, int] | None = None, word_table: Path | None = None,
                 datasets_mat: Path | None = None) -> Path:
    """Write the miniature release; ``word_table`` / ``datasets_mat``: real files to copy in place of the
    written word table / to add as the original release's ``datasets.mat``."""
    import mne

    mne.set_log_level("ERROR")
    root = Path(root)
    for sub, (shard, onsets, bads, (b0, bd), _) in SUBJECTS.items():
        n = int(DURATION * FS)
        t = np.arange(n) / FS
        data = np.vstack([signal(sub, c, t) for c in range(len(EEG))] +
                         [np.zeros(n), 1e-4 * np.cos(t)])
        info = mne.create_info(EEG + ["STI 014", "EOG"], FS, ["eeg"] * len(EEG) + ["stim", "eog"])
        raw = mne.io.RawArray(data, info, first_samp=FIRST_SAMP)
        raw.set_meas_date(datetime.datetime(2016, 5, 1, tzinfo=datetime.timezone.utc))
        for i, ch in enumerate(EEG):
            raw.info["chs"][i]["loc"][:3] = [0.01 * i, 0.02, 0.08]
        raw.info["bads"] = list(bads)
        first = FIRST_SAMP / FS
        segs = [k for k in onsets if (sub, k) != drop_annotation]
        raw.set_annotations(mne.Annotations(
            onset=[first + onsets[k] for k in segs] + [first + b0],
            duration=[SEG_DUR[k] for k in segs] + [bd],
            description=[str(k) for k in segs] + ["BAD_muscle"],
            orig_time=raw.info["meas_date"]))
        d = root / shard / "eeg" / sub
        d.mkdir(parents=True)
        raw.save(d / f"{sub}_alice-raw.fif")
    st = root / "stimuli"
    st.mkdir()
    for k, dur in SEG_DUR.items():
        n = int(dur * WAV_FS)
        x = 0.2 * np.sin(2 * np.pi * 440 * k * np.arange(n) / WAV_FS)
        wavfile.write(st / f"{k}.wav", WAV_FS, (x * 32767).astype(np.int16))
    if datasets_mat is not None:
        (root / "datasets.mat").write_bytes(Path(datasets_mat).read_bytes())
    if word_table is not None:
        (st / "AliceChapterOne-EEG.csv").write_bytes(Path(word_table).read_bytes())
        return root
    (st / "AliceChapterOne-EEG.csv").write_text(
        "Word,Segment,onset,offset,Order,LogFreq,IsLexical,NGRAM\n"
        "Alice,1,0.046,0.41,1,8.5,1,5.2\n"
        "was,1,0.41,0.6,2,13.1,0,2.1\n"
        "beginning,2,0.1,0.5,3,9.9,1,7.7\n"
        "to,3,0.2,0.3,4,14.0,0,NaN\n"
    )
    return root
