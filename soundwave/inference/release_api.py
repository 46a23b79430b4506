"""The seed's inference API: `load_model(path)` -> (model, audio_processor, tokenizer); `inference(...)` -> text.

Same defaults as the release's `run_inference.py` (max_new_tokens 512, sampling, temperature 0.2, top_p 0.9);
any `generate` keyword overrides them (`do_sample=False` for greedy).
"""

from __future__ import annotations

import os

import torch

from soundwave.audio import load_audio
from soundwave.inference.processor import SpeechProcessor
from soundwave.prompts import Turn

RELEASE_GENERATION = {"max_new_tokens": 512, "do_sample": True, "temperature": 0.2, "top_p": 0.9}


def load_model(path: str | os.PathLike, device: str | torch.device = "cpu", dtype: torch.dtype | str | None = None):
    """Load a Soundwave checkpoint: returns (model, audio_processor, tokenizer) as the release does."""
    from transformers import AutoTokenizer

    from soundwave.model.loading import load_feature_extractor, load_soundwave

    model = load_soundwave(path, dtype=dtype, device=device)
    directory = model.name_or_path
    tokenizer = AutoTokenizer.from_pretrained(directory)
    audio_processor = load_feature_extractor(
        directory, model.config.audio_config.num_mel_bins, audio_tower=model.config.audio_tower
    )
    return model, audio_processor, tokenizer


def release_generation(tokenizer, overrides: dict) -> dict:
    """The release's generation settings with `overrides` applied (sampling knobs dropped when greedy)."""
    settings = {**RELEASE_GENERATION, "eos_token_id": tokenizer.convert_tokens_to_ids("<|eot_id|>")}
    if settings["eos_token_id"] in (None, tokenizer.unk_token_id):
        settings["eos_token_id"] = tokenizer.eos_token_id
    settings.update(overrides)
    if not settings.get("do_sample", False):
        settings.pop("temperature", None)
        settings.pop("top_p", None)
    return settings


@torch.no_grad()
def inference(model, audio_processor, tokenizer, prompt: str, audio_path, **generate_overrides) -> str:
    """Answer `prompt` about the audio at `audio_path` (any common format and rate), as the release's `inference`."""
    processor = SpeechProcessor(
        tokenizer,
        audio_processor,
        prompt_format=model.config.prompt_format,
        system_prompt=model.config.system_prompt,
        window_seconds=float(getattr(audio_processor, "chunk_length", None) or model.config.window_seconds),
    )
    waveform = load_audio(audio_path)
    batch = processor([waveform], [[Turn("user", prompt, audio=True)]])
    batch = {k: v.to(model.device) for k, v in batch.items()}
    output_ids = model.generate(**batch, **release_generation(tokenizer, generate_overrides))
    prompt_length = batch["input_ids"].shape[1]  # the release's decoding line: output_ids[:, L:]
    return tokenizer.decode(output_ids[0, prompt_length:], skip_special_tokens=True)
