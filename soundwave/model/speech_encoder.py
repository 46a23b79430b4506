"""Any transformers speech encoder behind one call: (audio, lengths) -> frames (B, T, D_a) and frame lengths (B,).

Two input kinds:
- "mel": Whisper, run through our `AudioEncoder.encode_valid` on log-mel (valid frames only, padding masked).
  Audio longer than one 30 s window is cut into windows that are encoded separately and joined in time.
- "waveform": wav2vec2, HuBERT, WavLM (any `AutoModel` with `_get_feat_extract_output_lengths`), run on raw
  16 kHz waveforms with their attention mask where the model expects one (layer-norm feature extractors), and
  zeros past the end otherwise, as the transformers feature extractors prepare them.

Also here: loading a pretrained Whisper encoder from a transformers Whisper directory (only the encoder tensors
are read), and loading any of these encoders with the feature extractor that prepares its input.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path

import torch
from safetensors import safe_open
from torch import Tensor, nn
from transformers import (
    AutoConfig,
    AutoFeatureExtractor,
    AutoModel,
    PreTrainedConfig,
    Wav2Vec2FeatureExtractor,
    WhisperConfig,
    WhisperFeatureExtractor,
)
from transformers.initialization import no_init_weights

from soundwave.errors import CheckpointError
from soundwave.model.audio_encoder import AudioEncoder
from soundwave.model.checkpoint import weight_files

log = logging.getLogger(__name__)

WHISPER_PREFIXES = ("model.encoder.", "encoder.", "")  # WhisperForConditionalGeneration, WhisperModel, encoder
PREPROCESSOR_FILE = "preprocessor_config.json"


def input_kind_of(config: PreTrainedConfig) -> str:
    """ "mel" for Whisper encoders, "waveform" for every other speech encoder."""
    return "mel" if config.model_type == "whisper" else "waveform"


class SpeechEncoder(nn.Module):
    """A speech encoder of either input kind: (audio, lengths) -> (frames (B, T, D_a), frame_lengths (B,)).

    Args:
        config: the encoder's transformers config (`WhisperConfig`, `WavLMConfig`, `HubertConfig`, ...).
        model: an already built (e.g. pretrained) encoder for that config: an `AudioEncoder` for Whisper, an
            `AutoModel` otherwise. None builds a randomly initialised one.
    """

    def __init__(self, config: PreTrainedConfig, model: nn.Module | None = None) -> None:
        super().__init__()
        self.input_kind = input_kind_of(config)
        if model is None:
            model = AudioEncoder(config) if self.input_kind == "mel" else AutoModel.from_config(config)
        if self.input_kind == "waveform" and not hasattr(model, "_get_feat_extract_output_lengths"):
            raise ValueError(
                f"{type(model).__name__} is not a supported speech encoder: it has no _get_feat_extract_output_lengths "
                "(use a wav2vec2 / HuBERT / WavLM-style model or a Whisper encoder)"
            )
        self.model = model

    @property
    def config(self) -> PreTrainedConfig:
        return self.model.whisper.config if self.input_kind == "mel" else self.model.config

    @property
    def dim(self) -> int:
        """Width D_a of the frames the encoder outputs."""
        return self.config.d_model if self.input_kind == "mel" else self.config.hidden_size

    @property
    def uses_attention_mask(self) -> bool:
        """Whether the waveform model takes an attention mask (only layer-norm feature extractors do)."""
        return getattr(self.config, "feat_extract_norm", "layer") == "layer"

    def forward(self, audio: Tensor, audio_lengths: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Encode a right-padded batch.

        Args:
            audio: (B, n_mels, F) log-mel for "mel", (B, N) 16 kHz samples for "waveform".
            audio_lengths: (B,) valid mel frames / samples per row (None: the whole row).

        Returns:
            frames (B, T, D_a) (garbage past each row's length) and frame_lengths (B,).
        """
        if audio_lengths is None:
            audio_lengths = torch.full((audio.shape[0],), audio.shape[-1], dtype=torch.long, device=audio.device)
        audio_lengths = audio_lengths.to(device=audio.device, dtype=torch.long)
        audio = audio.to(next(self.model.parameters()).dtype)
        if self.input_kind == "mel":
            return self._encode_mel(audio, audio_lengths)
        return self._encode_waveform(audio, audio_lengths)

    def _encode_mel(self, mel: Tensor, mel_lengths: Tensor) -> tuple[Tensor, Tensor]:
        encoder: AudioEncoder = self.model
        window = encoder.window_mel_frames
        batch, n_mels, n_frames = mel.shape
        n_windows = max(1, math.ceil(n_frames / window))
        if n_windows == 1:
            return encoder.encode_valid(mel, mel_lengths)
        # longer than one window: encode each window separately, then join the frames in time
        mel = nn.functional.pad(mel, (0, n_windows * window - n_frames))  # (B, n_mels, W * window)
        windows = mel.reshape(batch, n_mels, n_windows, window).permute(0, 2, 1, 3)  # (B, W, n_mels, window)
        windows = windows.reshape(batch * n_windows, n_mels, window)  # (B*W, n_mels, window)
        starts = torch.arange(n_windows, device=mel.device) * window
        window_lengths = (mel_lengths[:, None] - starts).clamp(0, window).reshape(-1)  # (B*W,)
        frames, frame_lengths = encoder.encode_valid(windows, window_lengths)  # (B*W, T_w, D_a)
        # only a row's last window is partial, so its valid frames stay contiguous after the join
        frames = frames.reshape(batch, n_windows * frames.shape[1], frames.shape[2])  # (B, W*T_w, D_a)
        return frames, frame_lengths.reshape(batch, n_windows).sum(dim=1)

    def _encode_waveform(self, waveform: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        is_valid = torch.arange(waveform.shape[1], device=waveform.device)[None, :] < lengths[:, None]  # (B, N)
        waveform = waveform * is_valid  # zeros past the end: what group-norm models are trained to see
        mask = is_valid.long() if self.uses_attention_mask else None
        frames = self.model(waveform, attention_mask=mask).last_hidden_state  # (B, T, D_a)
        frame_lengths = self.model._get_feat_extract_output_lengths(lengths).to(torch.long)
        return frames, frame_lengths.clamp(max=frames.shape[1])


def read_whisper_encoder_weights(directory: str | Path) -> dict[str, Tensor]:
    """The encoder tensors of a transformers Whisper checkpoint, under `WhisperEncoder`'s own names.

    Reads only the encoder keys (`model.encoder.*`, `encoder.*` or bare encoder keys), so the decoder of a
    `WhisperForConditionalGeneration` checkpoint is never loaded.

    Raises:
        CheckpointError: no safetensors weights, or no Whisper encoder tensors in them.
    """
    try:
        files = weight_files(directory)
    except CheckpointError as err:
        raise CheckpointError(
            f"{directory}: no Whisper weights (model.safetensors or an index); convert the model to safetensors "
            "with transformers' save_pretrained"
        ) from err
    keys: set[str] = set()
    for file in files:
        with safe_open(str(file), framework="pt") as handle:
            keys.update(handle.keys())
    prefix = next((p for p in WHISPER_PREFIXES if f"{p}conv1.weight" in keys), None)
    if prefix is None:
        raise CheckpointError(f"{directory}: no Whisper encoder tensors (looked for {WHISPER_PREFIXES} + conv1.weight)")
    tensors: dict[str, Tensor] = {}
    for file in files:
        with safe_open(str(file), framework="pt") as handle:
            for key in handle.keys():
                rest = key[len(prefix) :]
                if key.startswith(prefix) and not rest.startswith(("decoder.", "model.", "proj_out")):
                    tensors[rest] = handle.get_tensor(key)
    return tensors


def load_whisper_encoder(directory: str | Path, dtype: torch.dtype = torch.float32) -> AudioEncoder:
    """A pretrained Whisper encoder from a transformers Whisper directory (config.json + safetensors).

    Raises:
        CheckpointError: missing, unexpected or mis-shaped encoder tensors (all named).
    """
    config = WhisperConfig.from_pretrained(directory)
    with no_init_weights():
        encoder = AudioEncoder(config)
    state = read_whisper_encoder_weights(directory)
    expected = encoder.whisper.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    mismatched = sorted(k for k in expected if k in state and state[k].shape != expected[k].shape)
    if missing or unexpected or mismatched:
        raise CheckpointError(
            f"{directory}: Whisper encoder tensors do not fit its config.json: missing {missing}, "
            f"unexpected {unexpected}, mis-shaped {mismatched}"
        )
    encoder.whisper.load_state_dict(state)
    return encoder.to(dtype)


def load_speech_encoder(directory: str | Path, dtype: torch.dtype = torch.float32) -> SpeechEncoder:
    """Any supported pretrained speech encoder from a local transformers directory.

    Whisper directories give the encoder part only; wav2vec2 / HuBERT / WavLM directories (also of their CTC
    fine-tuned models) give the bare `AutoModel`.
    """
    config = AutoConfig.from_pretrained(directory)
    if input_kind_of(config) == "mel":
        return SpeechEncoder(config, load_whisper_encoder(directory, dtype))
    return SpeechEncoder(config, AutoModel.from_pretrained(directory, dtype=dtype))


def load_feature_extractor_for(directory: str | Path, config: PreTrainedConfig):
    """The feature extractor that prepares the encoder's input: the directory's own, else the defaults.

    Defaults: `WhisperFeatureExtractor(feature_size=n_mels)` for Whisper; for other encoders a normalising
    `Wav2Vec2FeatureExtractor` that returns an attention mask iff the model uses one.
    """
    if (Path(directory) / PREPROCESSOR_FILE).is_file():
        return AutoFeatureExtractor.from_pretrained(directory)
    log.info("%s has no %s: using the default feature extractor", directory, PREPROCESSOR_FILE)
    if input_kind_of(config) == "mel":
        return WhisperFeatureExtractor(feature_size=config.num_mel_bins)
    uses_mask = getattr(config, "feat_extract_norm", "layer") == "layer"
    return Wav2Vec2FeatureExtractor(return_attention_mask=uses_mask)
