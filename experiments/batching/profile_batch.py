"""Profile one by one against one batch of 8 through the Pipeline (docs/performance.md, "Where batching stops paying").

python experiments/batching/profile_batch.py [MODEL]   # default: the tiny released-format reference checkpoint
"""

import cProfile
import glob
import pstats
import statistics
import sys
import time

from soundwave.audio import load_audio
from soundwave.inference.pipeline import Pipeline

model = sys.argv[1] if len(sys.argv) > 1 else "tests/assets/soundwave-reference/checkpoint"
pipe = Pipeline.from_pretrained(model)
clips = sorted(glob.glob("tests/assets/speech/librivox/*.wav"))
waves = [load_audio(c) for c in clips]
waves = (waves + waves)[:8]
items = [{"audio": w, "prompt": "Transcribe."} for w in waves]
GREEDY = dict(greedy=True, max_new_tokens=16)  # the default CTC draft on
pipe.generate_batch(items[:2], **GREEDY)
one, eight = [], []
for _ in range(3):
    t = time.perf_counter()
    a = [pipe.generate_batch([it], **GREEDY)[0].text for it in items]
    one.append(time.perf_counter() - t)
    t = time.perf_counter()
    b = [r.text for r in pipe.generate_batch(items, batch_size=8, **GREEDY)]
    eight.append(time.perf_counter() - t)
print(
    "one by one",
    statistics.median(one),
    "batch 8",
    statistics.median(eight),
    "ratio",
    statistics.median(one) / statistics.median(eight),
    "same",
    a == b,
)
for name, fn in (
    ("one", lambda: [pipe.generate_batch([it], **GREEDY) for it in items]),
    ("eight", lambda: pipe.generate_batch(items, batch_size=8, **GREEDY)),
):
    pr = cProfile.Profile()
    pr.enable()
    fn()
    pr.disable()
    print("=====", name)
    pstats.Stats(pr).sort_stats("cumtime").print_stats(30)
