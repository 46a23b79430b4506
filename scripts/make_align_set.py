"""A word-timing test set with exact ground truth: festival speaks sentences and says when each word starts and ends.

    python scripts/make_align_set.py --out data/align-festival                  # 40 held-out test sentences
    python scripts/make_align_set.py --out data/align-festival-dev --split valid  # a dev set to tune on
    python scripts/make_align_set.py --out data/align-festival --long 600       # + one 10-minute recording

Sentences come from the synthetic corpus's generators (`soundwave.synth.tasks.draft`) and only from the split the
corpus holds out of training by hash (`--split test` or `valid`), spoken by festival's voices (kal, ked, slt) in
turn. Festival's own word times (`word_start` / `word_end` of its Word relation) are the reference. A sentence
whose spoken words festival normalizes differently from the written ones ("21" -> "twenty one") is skipped, so
each reference word is a whitespace word of the transcript. Offline and deterministic from the seed.

Writes OUT/manifest.jsonl ({"id", "audio", "transcript", "task": "asr", "duration", "voice", "words": [{"word",
"start", "end"}]}) and OUT/audio/*.wav (16 kHz). `soundwave eval --task align --data OUT/manifest.jsonl` scores it.
With `--long SECONDS`, OUT/long.jsonl holds one recording of at least that length: the clips one after another
(again from the first when they run out), 0.3 s apart, their word times shifted to match.
"""

from __future__ import annotations

import argparse
import json
import random
import re
from pathlib import Path

import soundfile as sf

from soundwave.audio import SAMPLE_RATE, resample
from soundwave.synth.festival import FestivalProcess
from soundwave.synth.tasks import draft

VOICES = ("kal", "ked", "slt")  # festival's voices, spoken in turn
SOURCES = {"everyday": 0.5, "fortune": 0.5}  # the corpus's sentence generators (no bare word lists)
HOLDOUT = 0.05  # the corpus recipe's text_holdout (configs/synth/default.yaml): the same sentences stay out
MAX_WORDS = 25
GAP_SECONDS = 0.3  # silence between clips in the long recording


def normalized(word: str) -> str:
    return re.sub(r"[^a-z0-9']", "", word.lower())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="data/align-festival", help="output folder")
    parser.add_argument("--split", default="test", choices=("test", "valid"), help="held-out sentences to use")
    parser.add_argument("--num", type=int, default=40, help="sentences")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--long", type=float, help="also write long.jsonl: one recording of at least this many seconds")
    args = parser.parse_args(argv)
    out = Path(args.out)
    (out / "audio").mkdir(parents=True, exist_ok=True)
    rng = random.Random(f"{args.seed}-{args.split}")
    festival = FestivalProcess()
    rows, seen = [], set()
    try:
        while len(rows) < args.num:
            text = draft("asr", rng, SOURCES, args.split, HOLDOUT).spoken
            written = text.split()
            if text in seen or len(written) > MAX_WORDS:
                continue
            seen.add(text)
            voice = VOICES[len(rows) % len(VOICES)]
            wave, rate, spoken = festival.say_timed(voice, text)
            if [normalized(w) for w in written] != [normalized(w) for w, _, _ in spoken]:
                continue  # festival said something else than the written words (numbers, abbreviations)
            sample_id = f"festival-{args.split}-{len(rows):03d}"
            wave = resample(wave, rate, SAMPLE_RATE)
            sf.write(out / "audio" / f"{sample_id}.wav", wave, SAMPLE_RATE, subtype="PCM_16")
            words = [
                {"word": w, "start": round(start, 4), "end": round(end, 4)}
                for w, (_, start, end) in zip(written, spoken, strict=True)
            ]
            rows.append(
                {
                    "id": sample_id,
                    "audio": f"audio/{sample_id}.wav",
                    "transcript": text,
                    "task": "asr",
                    "duration": round(wave.shape[0] / SAMPLE_RATE, 3),
                    "voice": f"festival:{voice}",
                    "words": words,
                }
            )
    finally:
        festival.close()
    with open(out / "manifest.jsonl", "w", encoding="utf-8") as fh:
        fh.writelines(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
    seconds = sum(row["duration"] for row in rows)
    print(f"{len(rows)} sentences, {sum(len(r['words']) for r in rows)} words, {seconds:.1f} s -> {out}")
    if args.long:
        write_long(out, rows, args.long)
    return 0


def write_long(out: Path, rows: list[dict], seconds: float) -> None:
    """OUT/audio/long.wav and OUT/long.jsonl: the clips in a row (repeated as needed) for >= `seconds`."""
    import numpy as np

    gap = np.zeros(int(GAP_SECONDS * SAMPLE_RATE), dtype=np.float32)
    pieces, words, texts, at, index = [], [], [], 0.0, 0
    while at < seconds:
        row = rows[index % len(rows)]
        wave, _ = sf.read(out / row["audio"], dtype="float32")
        words += [{**w, "start": round(w["start"] + at, 4), "end": round(w["end"] + at, 4)} for w in row["words"]]
        texts.append(row["transcript"])
        pieces += [wave, gap]
        at += (wave.shape[0] + gap.shape[0]) / SAMPLE_RATE
        index += 1
    sf.write(out / "audio" / "long.wav", np.concatenate(pieces), SAMPLE_RATE, subtype="PCM_16")
    row = {
        "id": "festival-long",
        "audio": "audio/long.wav",
        "transcript": " ".join(texts),
        "task": "asr",
        "duration": round(at, 3),
        "words": words,
    }
    (out / "long.jsonl").write_text(json.dumps(row, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"long.jsonl: {index} clips, {len(words)} words, {at:.1f} s")


if __name__ == "__main__":
    raise SystemExit(main())
