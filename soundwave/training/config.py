"""The training run's schema: `data`, `training` and `model` sections of one YAML file.

The SpeechLLM seed's `config/train.yaml` loads as written; Soundwave stages add which parameters train (glob
patterns), loss weights, `init_from` the previous stage, LoRA and task mixing (in `data`). The `model` section
is the model schema (`soundwave.model.spec.ModelSpec`), plus the seed's names for its parts.

    cfg = load_run_config("configs/mini/stage1_align.yaml", ["training.learning_rate=5e-4"])
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from soundwave.config.data import DataConfig
from soundwave.errors import ConfigError
from soundwave.model.spec import Adapter, ModelSpec
from soundwave.training.spec_augment import SpecAugment

# The seed's `freeze_modules` names -> our parameter-name globs.
MODULE_GROUPS = {
    "encoder": ("audio_encoder.*", "speech_encoder.*"),
    "speech_encoder": ("audio_encoder.*", "speech_encoder.*"),
    "text_decoder": ("llm.*",),
    "llm": ("llm.*",),
    "projector": ("align_adapter.*", "shrink_adapter.*", "projector.*"),
    "adapter": ("align_adapter.*", "shrink_adapter.*", "projector.*"),
    "ctc_head": ("align_adapter.ctc_head.*",),
}


@dataclass(frozen=True)
class LossWeights:
    """Weights of the training losses: the only ones training reads (`soundwave.training.losses`). The defaults
    are the release's (CE + 0.3 x CTC). lm = 0 skips the LLM entirely (stage 1: CTC only); `spelling` trains the
    spelling head's character CTC (models with `model.spelling_head`; ctc = lm = 0 trains it alone)."""

    ctc: float = 0.3
    lm: float = 1.0
    spelling: float = 0.0

    def __post_init__(self) -> None:
        values = (self.ctc, self.lm, self.spelling)
        if not all(math.isfinite(v) for v in values) or min(values) < 0 or sum(values) == 0:
            raise ConfigError(
                f"loss_weights must be finite, >= 0 and not all 0, "
                f"got ctc={self.ctc} lm={self.lm} spelling={self.spelling}"
            )


def _at_least(low: int):
    return (lambda v: v >= low), f">= {low}"


_POSITIVE = (lambda v: v > 0), "positive"
_FRACTION = (lambda v: 0 <= v < 1), "in [0, 1)"
# Ranges of TrainingConfig's numeric fields, checked at load (values must also be finite): key -> (test, text).
# None passes where the field's type allows it (save_steps / eval_steps: off, the others: no limit).
RANGES = {
    "num_train_epochs": _POSITIVE,
    "max_steps": _at_least(1),
    "per_device_train_batch_size": _at_least(1),
    "per_device_eval_batch_size": _at_least(1),
    "gradient_accumulation_steps": _at_least(1),
    "learning_rate": _POSITIVE,
    "weight_decay": _at_least(0),
    "adam_beta1": _FRACTION,
    "adam_beta2": _FRACTION,
    "adam_epsilon": _POSITIVE,
    "warmup_steps": _at_least(0),
    "warmup_ratio": ((lambda v: 0 <= v <= 1), "in [0, 1]"),
    "max_grad_norm": _at_least(0),  # 0: no clipping
    "seed": ((lambda v: 0 <= v < 2**32), "in [0, 2**32)"),  # numpy's seed range
    "logging_steps": _at_least(1),
    "eval_steps": _at_least(1),
    "max_eval_batches": _at_least(1),
    "save_steps": _at_least(1),
    "save_total_limit": _at_least(0),  # 0: keep all
    "encoder_cache_gb": _POSITIVE,
    "ctc_negatives": _at_least(0),
    "ctc_vocab_size": _at_least(1),
    "dataloader_num_workers": _at_least(0),
    "max_tokens": _at_least(1),
}


@dataclass(frozen=True)
class TrainingConfig:
    """How to train. Keys of the SpeechLLM seed plus the Soundwave stage keys."""

    output_dir: str = "runs/default"
    stage: str = "train"  # a label for logs; the code never branches on it
    # which parameters train: `trainable` globs (empty: everything), minus `freeze_modules` groups and `frozen`
    trainable: tuple[str, ...] = ()
    freeze_modules: tuple[str, ...] = ()  # seed names: encoder, text_decoder, projector, ctc_head
    frozen: tuple[str, ...] = ("align_adapter.ctc_head.*",)  # the CTC head stays the LLM's embeddings (paper)
    loss_weights: LossWeights = field(default_factory=LossWeights)
    init_from: str | None = None  # the previous stage's output_dir (its final model) or a compact model dir
    num_train_epochs: float = 1.0
    max_steps: int | None = None  # optimizer steps; overrides num_train_epochs
    per_device_train_batch_size: int = 8
    per_device_eval_batch_size: int = 8
    gradient_accumulation_steps: int = 1
    learning_rate: float = 1e-4
    weight_decay: float = 0.0
    adam_beta1: float = 0.9
    adam_beta2: float = 0.999
    adam_epsilon: float = 1e-8
    warmup_steps: int = 0
    warmup_ratio: float = 0.0  # used when warmup_steps is 0
    lr_scheduler_type: Literal["cosine", "linear", "constant", "constant_with_warmup"] = "cosine"
    optim: Literal["adamw_torch", "adamw_torch_fused"] = "adamw_torch"
    max_grad_norm: float = 1.0
    bf16: bool = False
    fp16: bool = False
    seed: int = 42
    logging_steps: int = 10
    eval_steps: int | None = None  # validate every N steps (None: only at the end, if there is eval data)
    max_eval_batches: int | None = None
    save_steps: int | None = None  # checkpoint every N steps (None: off, only the final model at the end)
    save_total_limit: int = 2  # step checkpoints kept (oldest removed; 0: all kept)
    # a non-finite loss or gradient norm: "stop" the run (no final model is saved) or "skip" that optimizer step
    on_nonfinite_loss: Literal["stop", "skip"] = "stop"
    gradient_checkpointing: bool = False
    cache_encoder_outputs: bool = False  # stage 1 with a frozen encoder: encode each clip once
    encoder_cache_gb: float = 4.0  # RAM the encoder cache may fill (float16 frames); later clips are re-encoded
    ctc_negatives: int = 0  # stage 1: CTC over the batch's tokens + blank + N random ids per step (0: full vocab)
    init_from_exclude: tuple[str, ...] = ()  # globs of parameters init_from leaves at their fresh initialization
    reset_ctc_blank: bool = False  # after init_from: give the CTC blank a row the adapter can make win
    ctc_vocab_size: int | None = None  # CTC targets in the LLM BPE's first N ids (None: its own tokens)
    spec_augment: SpecAugment | None = None  # mask mel bands / time spans of training batches (None: off)
    # the same masks on the frozen encoder's (cached) outputs: feature bands ("freq") and time spans (50 Hz frames)
    frame_augment: SpecAugment | None = None
    dataloader_num_workers: int = 0
    max_tokens: int | None = None  # truncate longer rows
    deepspeed: str | None = None  # a DeepSpeed JSON config, passed to accelerate
    fsdp: bool = False  # shard with FSDP through accelerate (set up by `accelerate config` / launch flags)

    def __post_init__(self) -> None:
        if self.bf16 and self.fp16:
            raise ConfigError("training: choose bf16 or fp16, not both")
        for key, (test, text) in RANGES.items():
            value = getattr(self, key)
            if value is not None and not (math.isfinite(value) and test(value)):
                off = " or null (off)" if key in ("save_steps", "eval_steps") else ""
                raise ConfigError(f"training.{key} must be finite and {text}{off}, got {value!r}")
        if self.spec_augment is not None and self.cache_encoder_outputs:
            raise ConfigError(
                "training.spec_augment masks the encoder's input, so its outputs cannot be cached: "
                "set training.cache_encoder_outputs=false"
            )
        if self.frame_augment is not None and not self.cache_encoder_outputs:
            raise ConfigError(
                "training.frame_augment masks the cached encoder outputs: set training.cache_encoder_outputs=true"
            )
        unknown = [m for m in self.freeze_modules if m not in MODULE_GROUPS]
        if unknown:
            raise ConfigError(f"training.freeze_modules: unknown module(s) {unknown}; known: {sorted(MODULE_GROUPS)}")

    @property
    def frozen_patterns(self) -> tuple[str, ...]:
        groups = tuple(p for name in self.freeze_modules for p in MODULE_GROUPS[name])
        return groups + self.frozen


@dataclass(frozen=True, kw_only=True)
class ModelSection(ModelSpec):
    """A run's `model:` section: a `ModelSpec` (the same keys, defaults and checks), whose encoder and LLM may also
    be named by the SpeechLLM seed's keys, which imply `adapter: speechllm`."""

    encoder: str | None = None
    llm: str | None = None
    adapter: Adapter | None = None  # None: speechllm when the seed's keys name the parts, else soundwave
    speech_encoder_name_or_path: str | None = None  # seed name of `encoder`
    text_decoder_name_or_path: str | None = None  # seed name of `llm`

    def __post_init__(self) -> None:  # the spec's own checks run in `to_spec`, once the adapter is known
        if self.encoder and self.speech_encoder_name_or_path:
            raise ConfigError("model: set encoder or speech_encoder_name_or_path, not both")
        if self.llm and self.text_decoder_name_or_path:
            raise ConfigError("model: set llm or text_decoder_name_or_path, not both")

    def to_spec(self) -> ModelSpec:
        """The ModelSpec this section describes."""
        encoder = self.encoder or self.speech_encoder_name_or_path
        llm = self.llm or self.text_decoder_name_or_path
        if not encoder or not llm:
            raise ConfigError("model: name both an encoder (encoder:) and an LLM (llm:)")
        seed_style = self.speech_encoder_name_or_path is not None or self.text_decoder_name_or_path is not None
        spec = {f.name: getattr(self, f.name) for f in dataclasses.fields(ModelSpec)}
        spec.update(encoder=encoder, llm=llm, adapter=self.adapter or ("speechllm" if seed_style else "soundwave"))
        return ModelSpec(**spec)


@dataclass(frozen=True)
class RunConfig:
    """One training run: data, training and model."""

    model: ModelSection = field(default_factory=ModelSection)
    data: DataConfig = field(default_factory=DataConfig)
    training: TrainingConfig = field(default_factory=TrainingConfig)


def load_run_config(path: str | Path | dict, overrides: Sequence[str] = ()) -> RunConfig:
    """Read a run YAML (or dict) with dotted `key=value` overrides. Raises ConfigError naming the key."""
    from soundwave.config.loader import load_config

    return load_config(RunConfig, path, overrides)
