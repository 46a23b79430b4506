"""Stage-1 (alignment) step cost in the two modes, mini geometry: python bench/stage1.py"""
import time, torch, numpy as np
from soundwave.model.builder import build_model
from soundwave.inference.loader import processor_for
torch.manual_seed(0)
for mode in ("paper", "released"):
    model, tok, fe = build_model("whisper-tiny.en", "smollm2-135m-instruct", mode=mode)
    proc = processor_for(model, tok, fe)
    waves = [np.random.randn(16000 * 4).astype(np.float32) * 0.1 for _ in range(16)]
    ab = proc.audio_batch(waves)
    with torch.no_grad():
        t = time.perf_counter(); frames, fl = model.encode_frames(ab.audios, ab.audio_lengths); enc = time.perf_counter() - t
    for p in model.align_adapter.parameters(): p.requires_grad_(True)
    model.align_adapter.ctc_head.weight.requires_grad_(False)
    model.train()
    targets = torch.randint(0, 49000, (16, 12))
    times = []
    for _ in range(3):
        t = time.perf_counter()
        out = model(audios=None, encoder_frames=(frames, fl), asr_targets=targets, windows_per_item=torch.ones(16, dtype=torch.long))
        out.loss.backward()
        times.append(time.perf_counter() - t)
    print(mode, "encoder(16x4s)", round(enc, 2), "s; adapter+CTC fwd+bwd", [round(x, 2) for x in times], "frames", frames.shape)
