"""The seed's API: load_model + inference reproduce the release's greedy text on the fixture's wav files."""

import numpy as np
import pytest
import soundfile as sf

import soundwave
from soundwave.errors import AudioError


@pytest.fixture(scope="module")
def loaded(reference_dir):
    return soundwave.load_model(reference_dir / "checkpoint", device="cpu")


@pytest.mark.parametrize("k", [0, 1])
def test_inference_greedy_text(k, loaded, reference_dir, expected_json):
    sample = expected_json["samples"][k]
    text = soundwave.inference(
        *loaded, sample["prompt"], reference_dir / "audio" / sample["audio"], do_sample=False, max_new_tokens=12
    )
    assert text == sample["greedy_text"]


def test_inference_resamples_any_rate_and_channels(loaded, reference_dir, expected_json, tmp_path):
    """A 44.1 kHz stereo FLAC of the same speech gives the same greedy answer as the 16 kHz wav."""
    import soxr

    sample = expected_json["samples"][0]
    wave, rate = sf.read(reference_dir / "audio" / sample["audio"], dtype="float32")
    stereo = np.stack([soxr.resample(wave, rate, 44100)] * 2, axis=1)
    sf.write(tmp_path / "clip.flac", stereo, 44100)
    text = soundwave.inference(*loaded, sample["prompt"], tmp_path / "clip.flac", do_sample=False, max_new_tokens=4)
    reference = soundwave.inference(
        *loaded, sample["prompt"], reference_dir / "audio" / sample["audio"], do_sample=False, max_new_tokens=4
    )
    assert isinstance(text, str) and len(text) > 0
    assert text == reference


def test_inference_defaults_sample(loaded, reference_dir, expected_json):
    """Release defaults sample (temperature 0.2, top_p 0.9): runs and returns text."""
    sample = expected_json["samples"][0]
    text = soundwave.inference(*loaded, sample["prompt"], reference_dir / "audio" / sample["audio"], max_new_tokens=5)
    assert isinstance(text, str)


def test_silent_audio_answers(loaded, tmp_path):
    sf.write(tmp_path / "silence.wav", np.zeros(16000, dtype=np.float32), 16000)
    text = soundwave.inference(*loaded, "What is said?", tmp_path / "silence.wav", do_sample=False, max_new_tokens=3)
    assert isinstance(text, str)


@pytest.mark.parametrize("content", [b"", b"not audio at all, just text" * 10])
def test_unreadable_audio_names_the_file(loaded, tmp_path, content):
    bad = tmp_path / "bad.wav"
    bad.write_bytes(content)
    with pytest.raises(AudioError, match="bad.wav"):
        soundwave.inference(*loaded, "What is said?", bad, do_sample=False, max_new_tokens=3)


def test_missing_audio_names_the_file(loaded, tmp_path):
    with pytest.raises(AudioError, match="nope.wav"):
        soundwave.inference(*loaded, "What is said?", tmp_path / "nope.wav", max_new_tokens=3)


def release_batch(loaded, reference_dir, samples):
    """The inputs the release's `run_inference.py` builds, left-padded when there are several rows."""
    from soundwave.audio import load_audio
    from soundwave.inference.processor import SpeechProcessor
    from soundwave.prompts import Turn

    model, audio_processor, tokenizer = loaded
    processor = SpeechProcessor(tokenizer, audio_processor, prompt_format=model.config.prompt_format)
    waves = [load_audio(reference_dir / "audio" / s["audio"]) for s in samples]
    return processor(waves, [[Turn("user", s["prompt"], audio=True)] for s in samples])


def test_generate_returns_prompt_then_answer_as_the_release(loaded, reference_dir, expected_json):
    """The release's own decoding line, `output_ids[:, L:]` with L the prompt length, gives the fixture's text."""
    model, _, tokenizer = loaded
    for sample in expected_json["samples"]:
        batch = release_batch(loaded, reference_dir, [sample])
        output_ids = model.generate(**batch, do_sample=False, max_new_tokens=12, eos_token_id=4)
        input_token_len = batch["input_ids"].shape[1]
        assert output_ids[:, :input_token_len].tolist() == batch["input_ids"].tolist()
        text = tokenizer.batch_decode(output_ids[:, input_token_len:], skip_special_tokens=True)[0]
        assert text == sample["greedy_text"]


def test_left_padded_batch_gives_each_row_its_single_clip_ids(loaded, reference_dir, expected_json, expected):
    model, _, _ = loaded
    samples = expected_json["samples"]
    batch = release_batch(loaded, reference_dir, samples)
    output_ids = model.generate(**batch, do_sample=False, max_new_tokens=12, eos_token_id=4)
    width = batch["input_ids"].shape[1]
    assert width > min(len(expected[f"s{k}.prompt_ids"]) for k in range(len(samples)))  # a row really is padded
    for k in range(len(samples)):
        new = output_ids[k, width:].tolist()
        want = expected[f"s{k}.greedy_ids"].tolist()
        assert new[: len(want)] == want


def test_inference_is_the_package_and_the_release_function():
    """`soundwave.inference` is the subpackage (so `import soundwave.inference.live as live` works) and, called,
    the release's `inference` function."""
    import soundwave.inference.live as live
    from soundwave.inference.release_api import inference

    assert live.__name__ == "soundwave.inference.live"
    assert soundwave.inference.live is live
    assert callable(soundwave.inference)
    from soundwave import inference as exported

    assert exported is soundwave.inference and inference.__module__ == "soundwave.inference.release_api"
