"""SpeechLLM: the seed's Quick Start (pretrained weights really loaded), training, batching, save/load."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM

from soundwave.errors import ConfigError
from soundwave.model.align_adapter import stack_frames
from soundwave.model.projector import Projector
from soundwave.model.speechllm import SpeechLLM, SpeechLLMConfig
from soundwave.prompts import Turn, chat_template_ids
from tests.model.test_builder import bases  # noqa: F401  (session fixture: tiny base models)

INSTRUCTIONS = ["transcribe input speech to English text: ", "hi", "say what you hear, slowly and with care"]


def quick_start(bases, encoder: str, llm: str = "llm") -> SpeechLLM:  # noqa: F811
    config = SpeechLLMConfig(
        speech_encoder_name_or_path=str(bases(encoder)),
        text_decoder_name_or_path=str(bases(llm)),
        downsample_factor=5,
        projector_hidden_size=48,
    )
    return SpeechLLM(config=config)


@pytest.fixture(scope="module")
def wavlm_model(bases):  # noqa: F811
    return quick_start(bases, "wavlm", "llm_tied").eval()


def audio_batch(model: SpeechLLM, sizes: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
    """Random right-padded audio: `sizes` are samples (waveform) or mel frames (mel) per row."""
    if model.input_kind == "waveform":
        audio = torch.zeros(len(sizes), max(sizes))
        for i, n in enumerate(sizes):
            audio[i, :n] = torch.randn(n)
    else:
        audio = torch.zeros(len(sizes), 80, max(sizes))
        for i, n in enumerate(sizes):
            audio[i, :, :n] = torch.randn(80, n)
    return audio, torch.tensor(sizes)


def prompt_batch(model: SpeechLLM, tokenizer_rows: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
    """Left-pad prompt ids with the model's pad id."""
    width = max(map(len, tokenizer_rows))
    ids = torch.full((len(tokenizer_rows), width), model.config.llm_pad_token_id)
    mask = torch.zeros_like(ids)
    for i, row in enumerate(tokenizer_rows):
        ids[i, width - len(row) :] = torch.tensor(row)
        mask[i, width - len(row) :] = 1
    return ids, mask


def prompts(model: SpeechLLM, texts: list[str]) -> list[list[int]]:
    from soundwave.model.speechllm import speechllm_tokenizer

    tokenizer = speechllm_tokenizer(model.config)
    return [
        chat_template_ids(tokenizer, [Turn("user", t, audio=True)], system="", placeholder="<audio>") for t in texts
    ]


# ---- the Quick Start -------------------------------------------------------------------------------------------
def test_quick_start_loads_both_pretrained_models(bases, wavlm_model):  # noqa: F811
    llm_weights = load_file(str(bases("llm_tied") / "model.safetensors"))
    encoder_weights = load_file(str(bases("wavlm") / "model.safetensors"))
    model = wavlm_model
    assert torch.equal(
        model.llm.model.layers[0].self_attn.q_proj.weight, llm_weights["model.layers.0.self_attn.q_proj.weight"]
    )
    assert torch.equal(model.get_input_embeddings().weight[:400], llm_weights["model.embed_tokens.weight"])
    assert torch.equal(model.encoder.model.encoder.layers[1].feed_forward.output_dense.weight,
                       encoder_weights["encoder.layers.1.feed_forward.output_dense.weight"])  # fmt: skip
    assert model.config.audio_token_id == 400 and model.get_input_embeddings().weight.shape[0] == 401
    assert model.config.is_built and model.input_kind == "waveform" and model.placeholder_token == "<audio>"


@pytest.mark.parametrize("encoder", ["wavlm", "hubert", "wav2vec2", "whisper"])
def test_every_encoder_gives_one_vector_per_k_frames(bases, encoder):  # noqa: F811
    model = quick_start(bases, encoder).eval()
    sizes = [180, 97] if model.input_kind == "mel" else [2000, 1255]
    audio, lengths = audio_batch(model, sizes)
    with torch.no_grad():
        encoding = model.encode_audio(audio, lengths)
    expected_frames = (
        (lengths + 1) // 2
        if model.input_kind == "mel"
        else model.encoder.model._get_feat_extract_output_lengths(lengths)
    )
    assert encoding.frame_lengths.tolist() == expected_frames.tolist()
    assert encoding.lengths.tolist() == ((expected_frames + 4) // 5).tolist()  # ceil(T / 5): the tail is padded
    assert encoding.embeds.shape == (2, int(encoding.lengths.max()), 32)


def test_whisper_audio_longer_than_a_window_is_encoded_in_windows(bases):  # noqa: F811
    model = quick_start(bases, "whisper").eval()
    audio, lengths = audio_batch(model, [450, 120])  # window = 200 mel frames
    with torch.no_grad():
        encoding = model.encode_audio(audio, lengths)
        first_window = model.encoder(audio[:1, :, :200], torch.tensor([200]))[0]
    assert encoding.frame_lengths.tolist() == [225, 60]
    torch.testing.assert_close(encoding.frames[0, :100], first_window[0])


def test_whisper_features_stop_at_the_longest_clip(bases):  # noqa: F811
    """The encoder reads only the valid frames, so the processor need not pad mel to the whole 30 s window (a 3 s
    clip would cost 30 s of encoder): the vectors are the same either way."""
    from soundwave.processor import processor_for

    model = quick_start(bases, "whisper").eval()
    audio, lengths = audio_batch(model, [120, 70])  # the tiny Whisper's window: 200 mel frames
    padded = torch.nn.functional.pad(audio, (0, 200 - audio.shape[-1]))  # (B, 80, 120) -> (B, 80, 200)
    with torch.no_grad():
        short, full = model.encode_audio(audio, lengths), model.encode_audio(padded, lengths)
    assert short.lengths.tolist() == full.lengths.tolist()
    for i, n in enumerate(short.lengths.tolist()):
        torch.testing.assert_close(short.embeds[i, :n], full.embeds[i, :n], atol=1e-5, rtol=1e-4)
    assert processor_for(model, None, None).pad_to_window is False


def test_padded_batch_equals_each_row_alone(wavlm_model):
    audio, lengths = audio_batch(wavlm_model, [2000, 1250, 617])
    with torch.no_grad():
        together = wavlm_model.encode_audio(audio, lengths)
        for i in range(3):
            alone = wavlm_model.encode_audio(audio[i : i + 1, : lengths[i]], lengths[i : i + 1])
            n = int(alone.lengths[0])
            torch.testing.assert_close(together.embeds[i, :n], alone.embeds[0], atol=1e-5, rtol=1e-4)


# ---- stacking and the projector --------------------------------------------------------------------------------
def test_stacking_zero_pads_the_tail():
    frames = torch.arange(1, 8, dtype=torch.float32).reshape(1, 7, 1).repeat(2, 1, 2)  # (2, 7, 2)
    stacked, lengths = stack_frames(frames, torch.tensor([7, 6]), stack=5)
    assert stacked.shape == (2, 2, 10) and lengths.tolist() == [2, 2]
    assert stacked[0, 1].tolist() == [6, 6, 7, 7, 0, 0, 0, 0, 0, 0]
    assert stacked[1, 1].tolist() == [6, 6] + [0] * 8  # frame 7 is past row 1's length


def test_projector_shapes_residual_and_xavier():
    projector = Projector(in_dim=40, out_dim=16, hidden_dim=24, n_layers=3, activation="gelu")
    linears = [m for m in projector.mlp if isinstance(m, torch.nn.Linear)]
    assert [tuple(m.weight.shape) for m in linears] == [(24, 40), (24, 24), (24, 24), (24, 24), (16, 24)]
    for layer in [*linears, projector.residual]:
        fan_out, fan_in = layer.weight.shape
        assert layer.weight.abs().max() <= (6 / (fan_in + fan_out)) ** 0.5 and torch.all(layer.bias == 0)
    x = torch.randn(2, 3, 40)
    assert projector(x).shape == (2, 3, 16)
    torch.nn.init.zeros_(linears[-1].weight)  # MLP branch off: only the linear residual is left
    torch.testing.assert_close(projector(x), projector.residual(x))
    with pytest.raises(ValueError, match="activation 'nope'"):
        Projector(4, 4, 4, 1, activation="nope")


# ---- training --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("encoder", ["wavlm", "whisper"])
def test_unfrozen_encoder_trains(bases, encoder):  # noqa: F811
    model = quick_start(bases, encoder).train()
    ids, mask = prompt_batch(model, prompts(model, INSTRUCTIONS[:2]))
    labels = ids.clone()
    labels[mask == 0] = -100
    audio, lengths = audio_batch(model, [160, 100] if model.input_kind == "mel" else [1500, 1000])
    probe = next(p for n, p in model.encoder.named_parameters() if "layers.1" in n and n.endswith("weight"))
    before = probe.detach().clone()
    out = model(input_ids=ids, attention_mask=mask, audios=audio, audio_lengths=lengths, labels=labels)
    assert torch.isfinite(out.loss)
    out.loss.backward()
    assert probe.grad is not None and probe.grad.abs().sum() > 0
    torch.optim.SGD(model.parameters(), lr=0.1).step()
    assert not torch.equal(probe, before)


def test_text_only_forward_runs_the_llm_alone(wavlm_model):
    ids = torch.tensor([[0, 50, 60, 70]])
    with torch.no_grad():
        ours = wavlm_model(input_ids=ids).logits
        plain = wavlm_model.llm(input_ids=ids).logits
    torch.testing.assert_close(ours, plain)


def test_windows_of_one_audio_are_joined(wavlm_model):
    audio, lengths = audio_batch(wavlm_model, [1500, 1000, 700])
    with torch.no_grad():
        apart = wavlm_model.encode_audio(audio, lengths)
        joined = wavlm_model.encode_audio(audio, lengths, windows_per_item=torch.tensor([2, 1]))
    n0, n1, n2 = apart.lengths.tolist()
    assert joined.lengths.tolist() == [n0 + n1, n2]
    torch.testing.assert_close(joined.embeds[0, : n0 + n1], torch.cat([apart.embeds[0, :n0], apart.embeds[1, :n1]]))


def test_text_only_rows_beside_audio_rows(wavlm_model):
    from soundwave.model.speechllm import speechllm_tokenizer

    tokenizer = speechllm_tokenizer(wavlm_model.config)
    with_audio = prompts(wavlm_model, INSTRUCTIONS[:1])[0]
    text_only = chat_template_ids(tokenizer, [Turn("user", "tell me a story")], system="")
    audio, lengths = audio_batch(wavlm_model, [1500])
    ids, mask = prompt_batch(wavlm_model, [with_audio, text_only])
    greedy = {"do_sample": False, "max_new_tokens": 6, "eos_token_id": None}
    both = wavlm_model.generate(
        input_ids=ids, attention_mask=mask, audios=audio, audio_lengths=lengths, audios_per_row=torch.tensor([1, 0]),
        **greedy,
    )  # fmt: skip
    first = wavlm_model.generate(
        *prompt_batch(wavlm_model, [with_audio]), audios=audio, audio_lengths=lengths, **greedy
    )
    second = wavlm_model.generate(*prompt_batch(wavlm_model, [text_only]), **greedy)
    new = both[:, ids.shape[1] :]  # prompt + new ids -> new ids
    assert new.tolist() == [first[0, len(with_audio) :].tolist(), second[0, len(text_only) :].tolist()]


# ---- generation and checkpoints --------------------------------------------------------------------------------
@pytest.mark.parametrize("encoder", ["wavlm", "whisper"])
def test_batched_greedy_equals_each_row_alone(bases, encoder):  # noqa: F811
    model = quick_start(bases, encoder, "llm_tied").eval()
    rows = prompts(model, INSTRUCTIONS)
    audio, lengths = audio_batch(model, [190, 120, 60] if model.input_kind == "mel" else [2000, 1250, 600])
    ids, mask = prompt_batch(model, rows)
    greedy = {"do_sample": False, "max_new_tokens": 8, "eos_token_id": None}
    batched = model.generate(input_ids=ids, attention_mask=mask, audios=audio, audio_lengths=lengths, **greedy)
    assert len({tuple(r) for r in batched[:, ids.shape[1] :].tolist()}) == 3  # answers differ: the test bites
    for i, row in enumerate(rows):
        alone_ids, alone_mask = prompt_batch(model, [row])
        alone = model.generate(
            input_ids=alone_ids,
            attention_mask=alone_mask,
            audios=audio[i : i + 1, ..., : lengths[i]],
            audio_lengths=lengths[i : i + 1],
            do_sample=False,
            max_new_tokens=8,
            eos_token_id=None,
        )
        assert batched[i, ids.shape[1] :].tolist() == alone[0, alone_ids.shape[1] :].tolist()


def test_save_and_load_round_trip(wavlm_model, tmp_path):
    wavlm_model.save_pretrained(tmp_path / "ckpt")
    loaded = AutoModelForCausalLM.from_pretrained(tmp_path / "ckpt")
    assert isinstance(loaded, SpeechLLM) and loaded.config.audio_token_id == 400
    ids, mask = prompt_batch(wavlm_model, prompts(wavlm_model, INSTRUCTIONS[:2]))
    audio, lengths = audio_batch(wavlm_model, [1500, 900])
    with torch.no_grad():
        expected = wavlm_model(input_ids=ids, attention_mask=mask, audios=audio, audio_lengths=lengths).logits
        got = loaded.eval()(input_ids=ids, attention_mask=mask, audios=audio, audio_lengths=lengths).logits
    assert torch.equal(expected, got)
    assert loaded.llm.lm_head.weight is loaded.llm.model.embed_tokens.weight  # still tied


def test_config_validation():
    with pytest.raises(ConfigError, match="downsample_factor must be >= 1"):
        SpeechLLMConfig(downsample_factor=0)
    with pytest.raises(ConfigError, match="text_decoder_name_or_path is not set"):
        SpeechLLM(SpeechLLMConfig(speech_encoder_name_or_path="somewhere"))
