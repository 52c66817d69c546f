"""A miniature Downer 2025 release in the published layout (MATLAB v5 via scipy.io.savemat).

``make_release(root, sessions=...)`` writes ``auditory_cortex_data/`` with
``sessions_metadata.yml``, the TIMIT ``sentdet`` table (16 kHz sounds padded
with 0.5 s of silence), the vocalisation code/onset table and concatenated
wav, and per-session channel files ``<animal>_<session>_Ch<N>[suffix]_MUspk.mat``
holding ``spike.spktimes`` (s, session clock), a large ``spike.events``
matrix (``events_mb`` of filler, to make files big) and the ``trial`` table.

It returns the ground truth: trial onsets and codes per session and the spike
times of every channel, so tests can recompute each trial's spikes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy.io import savemat
from scipy.io import wavfile

TIMIT_FS = 16000
MVOC_FS = 41000
TIMIT_IDS = [3, 12, 13, 40]  # 12, 13: test sentences (played TIMIT_TEST_REPS times)
TIMIT_TEST = [12, 13]
TIMIT_TEST_REPS = 3
MVOC_CODES = [7, 9, 20]  # 7: test vocalisation (MVOC_TEST_REPS occurrences in the sequence)
MVOC_TEST_REPS = 3
PAD = 0.5

YAML_TEXT = """# squirrel monkey sessions (miniature)
c_RH_sessions: [180501, 180502]
b_RH_sessions: [180613]
f_RH_sessions: [191209]
c_LH_sessions: [200206, 200207, 200212, 200213]
area_wise_sessions:
  core: [180501, 191209, 200206, 200207, 200213] # A1 / R
  non-primary: [180502, 180613, 200212]
session_coordinates:
  180501: [1.5, -2.0]
  180502: [0.5, 3.25]
bad_sessions: [180502]
stim_wise_num_repeats: {timit: %d, mVocs: %d}
"""

SESSIONS = [("c", "180501"), ("c", "180502"), ("b", "180613"), ("f", "191209"),
            ("c", "200206"), ("c", "200207"), ("c", "200212"), ("c", "200213")]


def _struct_array(records: list[dict]) -> np.ndarray:
    names = list(records[0])
    arr = np.empty((1, len(records)), dtype=[(n, object) for n in names])
    for i, r in enumerate(records):
        for n in names:
            arr[0, i][n] = r[n]
    return arr


def make_release(root, n_sessions: int = 3, channels=(("", 1), ("", 2), ("p", 3)), events_mb: float = 0.0,
                 seed: int = 0, top: bool = True, yaml_name: str = "sessions_metadata.yml") -> dict:
    """Write the miniature release; returns the ground truth (see module docstring).

    The vocalisation wav is stereo as released: channel 0 the audio, channel 1 onset pulses (5 ms, three at
    the first presentation, as the authors' reader expects); ``mVocsStimOnTimes`` is written 3 ms off the
    pulses, so a converter that uses it instead of the pulses cuts the sounds in the wrong place.
    """
    rng = np.random.default_rng(seed)
    root = Path(root)
    base = root / "auditory_cortex_data" if top else root
    (base / "stimuli").mkdir(parents=True)
    (base / "sessions").mkdir()
    (base / yaml_name).write_text(YAML_TEXT % (TIMIT_TEST_REPS, MVOC_TEST_REPS))

    # TIMIT sentences, 0.5 s pads, stored in MATLAB as a 1xN struct array
    sent, timit_dur = [], {}
    for k, sid in enumerate(TIMIT_IDS):
        dur = 0.3 + 0.1 * k
        n = int(round(dur * TIMIT_FS))
        speech = (0.2 * np.sin(2 * np.pi * 700 * (k + 1) * np.arange(n) / TIMIT_FS)).astype(np.float64)
        pad = np.zeros(int(PAD * TIMIT_FS))
        sound = np.concatenate([pad, speech, pad])
        sent.append({"name": f"sx{sid}_spkr ", "sentId": float(sid), "sound": sound[:, None],
                     "soundf": float(TIMIT_FS), "duration": sound.size / TIMIT_FS,
                     "befaft": np.array([[PAD, PAD]]), "aud": rng.random((8, 20))})
        timit_dur[sid] = n / TIMIT_FS
    savemat(base / "stimuli" / "out_sentence_details_timit_all_loudness.mat",
            {"sentdet": _struct_array(sent), "phnnames": np.array(["aa", "b"], dtype=object)})

    # vocalisations: a sequence of slots in one stereo wav
    seq = [7, 9, 7, 20, 9, 7]
    slot_len = {7: 0.2, 9: 0.35, 20: 0.25}
    gaps = [0.05, 0.10, 0.02, 0.07, 0.03, 0.08]
    onsets, t, chunks = [], 0.1, [np.zeros(int(0.1 * MVOC_FS))]
    for code, g in zip(seq, gaps):
        onsets.append(t)
        n = int(round((slot_len[code] + g) * MVOC_FS))
        tone = 0.1 * np.sin(2 * np.pi * 300 * code * np.arange(n) / MVOC_FS)
        chunks.append(tone)
        t += n / MVOC_FS
    mono = np.concatenate(chunks)
    pulses = np.zeros(mono.size)
    starts = [int(round(o * MVOC_FS)) for o in onsets]
    width = int(0.005 * MVOC_FS)
    for st in starts + [starts[0] + int(0.012 * MVOC_FS), starts[0] + int(0.024 * MVOC_FS)]:
        pulses[st : st + width] = 0.9
    onsets = [st / MVOC_FS for st in starts]
    audio16 = (mono * 32767).astype(np.int16)
    wavfile.write(base / "stimuli" / "MonkVocs_15Blocks.wav", MVOC_FS,
                  np.stack([audio16, (pulses * 32767).astype(np.int16)], axis=1))
    savemat(base / "stimuli" / "SqMoPhys_MVOCStimcodes.mat",
            {"mVocsStimCodes": np.array(seq, dtype=float)[None],
             "mVocsStimOnTimes": (np.array(onsets) + 0.003)[None]})
    mvoc_dur = {}
    for code in set(seq):
        idx = [i for i, c in enumerate(seq) if c == code]
        ends = [onsets[i + 1] if i + 1 < len(onsets) else mono.size / MVOC_FS for i in idx]
        mvoc_dur[code] = min(e - onsets[i] for e, i in zip(ends, idx))

    truth = {"timit_dur": timit_dur, "mvoc_dur": mvoc_dur, "sessions": {}, "channels": {}, "mvoc_onsets": onsets,
             "mvoc_seq": seq, "mvoc_audio": audio16}
    for animal, sess in SESSIONS[:n_sessions]:
        d = base / "sessions" / sess
        d.mkdir()
        # trial table: TIMIT trials (test ids repeated), then vocalisation trials
        tcodes = [c for c in TIMIT_IDS if c not in TIMIT_TEST] + TIMIT_TEST * TIMIT_TEST_REPS
        mcodes = [7, 9, 20, 7, 7] if sess != "180613" else [9]
        tcodes = list(rng.permutation(tcodes))
        n_tr = len(tcodes) + len(mcodes)
        stimon = 2.0 + np.cumsum(np.full(n_tr, 2.5))
        timit = np.array(tcodes + [0] * len(mcodes), dtype=float)
        mvoc = np.array([0] * len(tcodes) + mcodes, dtype=float)
        mvoc[: len(tcodes)] = np.nan  # the other class may be NaN rather than 0
        trial = {"stimon": stimon[:, None], "timitStimcode": timit[:, None], "mVocStimcode": mvoc[:, None]}
        truth["sessions"][sess] = {"stimon": stimon, "timit": np.nan_to_num(timit), "mvoc": np.nan_to_num(mvoc)}
        (d / f"{animal}_{sess}_TRIALINFO.mat").write_bytes(b"not a channel file")
        for suffix, ch in channels:
            spk = np.sort(rng.uniform(0.0, stimon[-1] + 3.0, size=int(rng.integers(200, 400))))
            n_ev = int(events_mb * 1e6 / 8)
            events = rng.random(n_ev) if n_ev else np.zeros((0, 3))
            name = f"{animal}_{sess}_Ch{ch}{suffix}_MUspk.mat"
            savemat(d / name, {"spike": {"spktimes": spk[:, None], "events": events}, "trial": trial},
                    do_compression=False)
            truth["channels"][f"{animal}_{sess}_Ch{ch}{suffix}"] = spk
    return truth
