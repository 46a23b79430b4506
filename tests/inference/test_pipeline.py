"""Pipeline: batched == one by one, bad items fail alone, streaming, long audio, context limits, chat."""

import json
from pathlib import Path

import numpy as np
import pytest

from soundwave.errors import ConfigError, SoundwaveError
from soundwave.inference.chat import Conversation
from soundwave.options import GenerationConfig

GREEDY = {"greedy": True, "max_new_tokens": 8}


def test_generate_batch_matches_single_in_input_order(pipe, clips):
    items = [{"audio": clips[1], "prompt": "Translate to German."}, {"audio": clips[0], "prompt": "What is said?"}]
    batched = pipe.generate_batch(items, **GREEDY)
    alone = [pipe.generate(i["audio"], i["prompt"], **GREEDY) for i in items]
    assert [r.text for r in batched] == [r.text for r in alone]
    assert all(r.output_tokens > 0 and r.audio_tokens > 0 for r in batched)
    assert batched[0].input_tokens == alone[0].input_tokens


def test_generate_batch_batches_similar_lengths_and_answers_in_input_order(pipe, clips, monkeypatch):
    from soundwave.audio import load_audio

    long, short = load_audio(clips[1]), load_audio(clips[0])
    waves = [short[:16_000], long, short, long[:48_000]]  # 1 s, the long clip, the short clip, 3 s
    items = [{"audio": wave, "prompt": "What is said?"} for wave in waves]
    seen, run = [], pipe._run
    monkeypatch.setattr(pipe, "_run", lambda chunk, *rest: seen.append([len(c[2]) for c in chunk]) or run(chunk, *rest))
    batched = pipe.generate_batch(items, batch_size=2, **GREEDY)
    monkeypatch.undo()
    lengths = sorted((len(w) for w in waves), reverse=True)
    assert seen == [lengths[:2], lengths[2:]]  # the two longest together, then the two shortest
    alone = [pipe.generate(i["audio"], i["prompt"], **GREEDY) for i in items]
    assert [r.text for r in batched] == [r.text for r in alone]
    assert [r.audio_seconds for r in batched] == pytest.approx([len(w) / 16_000 for w in waves], abs=0.01)


def test_a_repetition_penalty_is_the_same_batched_and_alone(pipe, clips):
    """Rows of different lengths (left padding) penalize every token they generate, as a row alone does
    (transformers' own penalty skips a padded row's first new tokens when the prompt is embeddings)."""
    from soundwave.audio import load_audio

    long, short = load_audio(clips[1]), load_audio(clips[0])
    items = [{"audio": long, "prompt": "What is said?"}, {"audio": short[:16_000], "prompt": "Repeat it."}]
    options = {"greedy": True, "max_new_tokens": 24, "repetition_penalty": 1.8, "draft": "none"}
    batched = pipe.generate_batch(items, **options)
    assert batched[0].audio_tokens != batched[1].audio_tokens  # the shorter row is padded
    alone = [pipe.generate(i["audio"], i["prompt"], **options) for i in items]
    assert [r.text for r in batched] == [r.text for r in alone]
    plain = pipe.generate_batch(items, **(options | {"repetition_penalty": 1.0}))
    assert [r.text for r in plain] != [r.text for r in batched]  # the penalty changed the answers


def test_bad_item_fails_only_itself(pipe, clips, tmp_path):
    (tmp_path / "broken.mp3").write_bytes(b"\x00\x01garbage")
    results = pipe.generate_batch(
        [{"audio": clips[0], "prompt": "Hi"}, {"audio": str(tmp_path / "broken.mp3"), "prompt": "Hi"}], **GREEDY
    )
    assert results[0].error is None and results[0].text
    assert "broken.mp3" in results[1].error


def test_generate_raises_for_bad_audio(pipe, tmp_path):
    with pytest.raises(SoundwaveError, match="empty.wav"):
        (tmp_path / "empty.wav").write_bytes(b"")
        pipe.generate(str(tmp_path / "empty.wav"), "Hi", **GREEDY)


def test_stream_yields_the_same_text(pipe, clips):
    pieces = list(pipe.stream(clips[0], "What is said?", **GREEDY))
    assert len(pieces) >= 1
    assert "".join(pieces).strip() == pipe.generate(clips[0], "What is said?", **GREEDY).text


def test_array_input_any_rate(pipe, clips):
    import soundfile as sf
    import soxr

    wave, rate = sf.read(clips[0], dtype="float32")
    resampled = soxr.resample(wave, rate, 8000)
    result = pipe.generate_batch([{"audio": resampled, "prompt": "Hi", "sampling_rate": 8000}], **GREEDY)[0]
    assert result.error is None and abs(result.audio_seconds - wave.shape[0] / rate) < 0.01


def test_long_audio_is_windowed_not_cut(pipe):
    rng = np.random.default_rng(0)
    short = rng.normal(0, 0.1, 16000 * 20).astype(np.float32)
    long = np.concatenate([short, short, short, short])  # 80 s: 3 windows of 30 s
    batch = pipe.processor([long], [[]])
    assert batch["windows_per_item"].tolist() == [3]
    r_short = pipe.generate_batch([{"audio": short, "prompt": "Hi", "sampling_rate": 16000}], **GREEDY)[0]
    r_long = pipe.generate_batch([{"audio": long, "prompt": "Hi", "sampling_rate": 16000}], **GREEDY)[0]
    assert r_long.error is None
    assert r_long.audio_tokens > 2 * r_short.audio_tokens


def test_context_overflow_is_a_clear_error_for_that_item_only(pipe, clips, monkeypatch):
    monkeypatch.setattr(pipe.model.config.text_config, "max_position_embeddings", 250)
    long = np.zeros(16000 * 65, dtype=np.float32)
    results = pipe.generate_batch(
        [{"audio": clips[0], "prompt": "Hi"}, {"audio": long, "prompt": "Hi", "sampling_rate": 16000}], **GREEDY
    )
    assert results[0].error is None
    assert "context of 250" in results[1].error and "s fits" in results[1].error


def test_seeded_sampling_is_reproducible(pipe, clips):
    a = pipe.generate(clips[0], "Hi", seed=3, max_new_tokens=6, temperature=1.0)
    b = pipe.generate(clips[0], "Hi", seed=3, max_new_tokens=6, temperature=1.0)
    assert a.text == b.text


def test_generation_config_validates():
    with pytest.raises(ValueError, match="max_new_tokens"):
        GenerationConfig(max_new_tokens=0)
    with pytest.raises(ValueError, match="unknown generation option"):
        GenerationConfig().with_overrides(temprature=0.5)
    assert GenerationConfig().with_overrides(greedy=True).do_sample is False
    for bad in (
        {"word_repair_speech": -1.0},
        {"repair_nbest": 0},
        {"repair_pool": -1},
        {"num_beams": 0},
    ):  # a user's flags: named
        with pytest.raises(ConfigError, match=next(iter(bad))):
            GenerationConfig().with_overrides(**bad)


def test_model_folder_generation_defaults(tmp_path, clips):
    from soundwave.errors import ConfigError
    from soundwave.inference.generation import model_decoding
    from soundwave.inference.pipeline import Pipeline

    assert model_decoding(tmp_path).generation == GenerationConfig()  # no file: the release's defaults
    for bad, message in [("- 1\n", "expected a mapping"), ("temprature: 1\n", "unknown generation option")]:
        (tmp_path / "generation.yaml").write_text(bad)
        with pytest.raises(ConfigError, match=f"generation.yaml: .*{message}"):
            model_decoding(tmp_path)
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    for item in (Path(clips[0]).parents[1] / "checkpoint").iterdir():
        (model_dir / item.name).symlink_to(item)
    (model_dir / "generation.yaml").write_text("do_sample: false\nmax_new_tokens: 3\nrepetition_penalty: 1.2\n")
    pipe = Pipeline.from_pretrained(str(model_dir))
    assert (pipe.generation.do_sample, pipe.generation.repetition_penalty) == (False, 1.2)
    assert pipe.generate(clips[0], "What is said?").output_tokens <= 3
    assert pipe.generate(clips[0], "What is said?", max_new_tokens=5).output_tokens > 3  # a call still overrides


def test_chat_keeps_history_and_audio_turns(pipe, clips):
    chat = Conversation(pipe)
    first = chat.say("Hello there.", **GREEDY)
    assert first.audio_tokens == 0
    chat.attach(clips[0])
    second = chat.say("What is said?", **GREEDY)
    chat.attach(clips[1])
    third = chat.say("And now?", **GREEDY)
    assert second.audio_tokens > 0 and third.audio_tokens > second.audio_tokens  # both recordings in context
    assert [t.role for t in chat.turns] == ["user", "assistant"] * 3
    assert len(chat.audio) == 2
    chat.reset()
    assert chat.turns == [] and chat.audio == []


def test_cli_ask_and_transcribe(clips, tmp_path, capsys):
    from soundwave.cli import main
    from soundwave.inference.pipeline import Pipeline

    model = str(__import__("pathlib").Path(clips[0]).parents[1] / "checkpoint")
    assert main(["ask", clips[0], "What is said?", "--model", model, "--greedy", "--max-new-tokens", "4"]) == 0
    assert capsys.readouterr().out.strip()
    out = tmp_path / "t.jsonl"
    code = main(
        ["transcribe", *clips, str(tmp_path / "missing.wav"), "--model", model, "--max-new-tokens", "4", "-o", str(out)]
    )
    assert code == 1  # one file failed: every file still gets its line (soundwave transcribe --help)
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [line["file"] for line in lines] == [*clips, str(tmp_path / "missing.wav")]
    assert lines[0]["error"] is None and "no such audio file" in lines[2]["error"]
    # a model folder without generation.yaml (the release's) transcribes with the release's defaults, greedy: no
    # joint CTC decoding, no beams, unless asked
    pipe = Pipeline.from_pretrained(model)
    plain, joint = (
        pipe.generate(clips[0], "What does the person say?", greedy=True, max_new_tokens=4, ctc_weight=w)
        for w in (0.0, 0.5)
    )
    assert lines[0]["text"] == plain.text != joint.text
    joint_out = tmp_path / "g.jsonl"
    flags = ["--model", model, "--max-new-tokens", "4", "--ctc-weight", "0.5", "-o", str(joint_out)]
    assert main(["transcribe", clips[0], *flags]) == 0
    assert json.loads(joint_out.read_text())["text"] == joint.text


def test_int8_quantized_pipeline_answers(clips):
    from soundwave.inference.pipeline import Pipeline

    model_dir = str(__import__("pathlib").Path(clips[0]).parents[1] / "checkpoint")
    quantized = Pipeline.from_pretrained(model_dir, quantize="int8")
    full = Pipeline.from_pretrained(model_dir)
    q = quantized.generate(clips[0], "What is said?", **GREEDY)
    f = full.generate(clips[0], "What is said?", **GREEDY)
    assert q.output_tokens > 0 and q.audio_tokens == f.audio_tokens  # CTC head kept in float: same shrinking
    linear = quantized.model.llm.model.layers[0].self_attn.q_proj
    assert "quantized" in type(linear).__module__


def test_nf4_on_cpu_is_a_clear_error(clips):
    from soundwave.inference.pipeline import Pipeline

    model_dir = str(__import__("pathlib").Path(clips[0]).parents[1] / "checkpoint")
    with pytest.raises(SoundwaveError, match="nf4 needs CUDA"):
        Pipeline.from_pretrained(model_dir, quantize="nf4")


def test_int8_quantization_merges_lora_first(tmp_path):
    from soundwave.inference.loader import processor_for
    from soundwave.inference.pipeline import Pipeline
    from soundwave.inference.quantize import quantize_model
    from soundwave.model.builder import build_model
    from soundwave.model.lora import LoraSpec, has_lora
    from tests.model.test_builder import base_dir

    model, tokenizer, extractor = build_model(
        str(base_dir(tmp_path, "whisper")),
        str(base_dir(tmp_path, "llm_chatml")),
        mode="paper",
        lora=LoraSpec(r=2, alpha=4, dropout=0.0),
    )
    quantize_model(model, "int8")
    assert not has_lora(model.llm)
    pipe = Pipeline(model, processor_for(model, tokenizer, extractor))
    result = pipe.generate_batch(
        [{"audio": np.zeros(8000, dtype=np.float32), "prompt": "Hi", "sampling_rate": 16000}], **GREEDY
    )[0]
    assert result.error is None and result.output_tokens > 0


def test_from_model_wraps_an_in_memory_model_like_a_loaded_one(tmp_path):
    from soundwave.inference.loader import processor_for
    from soundwave.inference.pipeline import Pipeline
    from soundwave.model.builder import build_model
    from tests.model.test_builder import base_dir

    model, tokenizer, extractor = build_model(
        str(base_dir(tmp_path, "whisper")), str(base_dir(tmp_path, "llm_chatml")), mode="paper"
    )
    pipe = Pipeline.from_model(model, tokenizer, extractor, GenerationConfig(max_new_tokens=5, do_sample=False))
    assert pipe.model is model and pipe.tokenizer is tokenizer
    assert pipe.processor.prompt_format == model.config.prompt_format == "chat_template"
    assert pipe.generation.max_new_tokens == 5 and not pipe.generation.do_sample
    item = {"audio": np.sin(np.arange(16000, dtype=np.float32) / 9), "prompt": "Hi", "sampling_rate": 16000}
    wrapped = pipe.generate_batch([item])[0]
    by_hand = Pipeline(model, processor_for(model, tokenizer, extractor)).generate_batch([item], **GREEDY)[0]
    assert wrapped.error is None and 0 < wrapped.output_tokens <= 5
    assert by_hand.text.startswith(wrapped.text) and wrapped.audio_tokens == by_hand.audio_tokens > 0
