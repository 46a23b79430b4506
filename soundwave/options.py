"""Decoding options, declared once.

Each field of `GenerationConfig` carries its help, range and group; everything that takes decoding options derives
from these declarations: the CLI flags (`add_option_flags`), the eval config's keys (`soundwave.eval.config`), the
server's request fields (`soundwave.serving.schemas`), and the model folder's `generation.yaml`. Ranges are checked
here and nowhere else. Defaults are the release's (`run_inference.py`); values tuned for one model live in that
model's `generation.yaml`, never here.

The ranges also bound the cost of a request: beams, candidates and repair work are capped, so no option value can
make decoding take unboundedly long.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

from soundwave.errors import ConfigError, TextError
from soundwave.prompts import check_text

BASIC, EXPERT = "decoding", "expert decoding (joint CTC, spelling, word repair)"
MAX_SEED = 2**63 - 1  # torch.manual_seed's range
# transformers' stop-string matcher builds tables over the whole vocabulary for each string's length: a 10,000-character
# string takes 7 s (49k vocabulary), on the model thread. Real stop strings are a few characters.
MAX_STOP_CHARS = 100


def option(
    default: Any,
    help: str,  # noqa: A002  (argparse's word)
    *,
    low: float | None = None,
    high: float | None = None,
    open_low: bool = False,
    choices: tuple[str, ...] | None = None,
    group: str = BASIC,
) -> Any:
    """A `GenerationConfig` field with its declaration: `low <= value <= high` (`open_low`: `low < value`), or one
    of `choices`."""
    metadata = {"help": help, "low": low, "high": high, "open_low": open_low, "choices": choices, "group": group}
    return field(default=default, metadata=metadata)


@dataclass(frozen=True)
class GenerationConfig:
    """How to decode. Defaults are the release's: sampling at temperature 0.2, top_p 0.9, 512 new tokens."""

    max_new_tokens: int = option(512, "most tokens to generate", low=1, high=32_768)
    do_sample: bool = option(True, "sample (the release's default); --no-do-sample or --greedy: greedy decoding")
    temperature: float = option(0.2, "sampling temperature", low=1e-3, high=100.0)
    top_p: float = option(0.9, "nucleus sampling: keep the smallest token set of this probability", low=0.0,
                          high=1.0, open_low=True)  # fmt: skip
    top_k: int | None = option(None, "sample among the k likeliest tokens (default: all)", low=1, high=100_000)
    repetition_penalty: float = option(1.0, "> 1 discourages repeating tokens", low=1e-2, high=100.0)
    stop: tuple[str, ...] = option(
        (), f"stop strings (at most {MAX_STOP_CHARS} characters each), on top of the end-of-turn token (repeatable)"
    )
    seed: int | None = option(None, "seeds sampling, for reproducible answers", low=0, high=MAX_SEED)
    num_beams: int = option(1, "beam search width (1: none)", low=1, high=16)
    draft: str = option(
        "ctc",
        "speculative decoding's draft: the CTC head's transcript, checked by the LLM several tokens per pass (greedy: "
        "the ids of plain greedy, sampling: its distribution, in fewer passes); none: plain",
        choices=("ctc", "none"),
    )
    ctc_weight: float = option(
        0.0, "joint CTC / LLM decoding of transcripts: the alignment adapter's CTC weight (0: off)", low=0.0,
        high=1.0, group=EXPERT,
    )  # fmt: skip
    ctc_candidates: int = option(8, "LLM top-k tokens CTC scores per step", low=1, high=64, group=EXPERT)
    ctc_blank_penalty: float = option(0.0, "taken off CTC's blank log-prob (> 0: fewer deletions)", low=0.0,
                                      high=100.0, group=EXPERT)  # fmt: skip
    ctc_length_bonus: float = option(0.0, "added per token in joint decoding (> 0: longer answers)", low=-100.0,
                                     high=100.0, group=EXPERT)  # fmt: skip
    spelling_weight: float = option(
        0.0, "the spelling CTC's weight in joint decoding (models with a spelling head; 0: off)", low=0.0, high=1.0,
        group=EXPERT,
    )  # fmt: skip
    lexicon_penalty: float = option(0.0, "with spelling_weight: off a hypothesis's score per non-word it spells",
                                    low=0.0, high=100.0, group=EXPERT)  # fmt: skip
    word_repair: float = option(0.0, "repair non-words after decoding: the text LM's weight (0: off)", low=0.0,
                                high=100.0, group=EXPERT)  # fmt: skip
    word_repair_speech: float = option(
        0.0, "word repair's weight of the speech LLM's log P(sentence | audio) (0: off)", low=0.0, high=100.0,
        group=EXPERT,
    )  # fmt: skip
    repair_nbest: int = option(1, "with beams and word repair: the best beams repaired, the best repair kept",
                               low=1, high=16, group=EXPERT)  # fmt: skip
    repair_pool: int = option(0, "word repair: nearby lexicon words found per word, shortlisted to 8 by the "
                              "spelling CTC (0: just 8)", low=0, high=256, group=EXPERT)  # fmt: skip
    repair_window: int = option(3, "word repair: words past each tried word the LMs read (its cost per word)",
                                low=0, high=64, group=EXPERT)  # fmt: skip

    def __post_init__(self) -> None:
        for spec in dataclasses.fields(self):
            check(spec, getattr(self, spec.name))
        if self.ctc_weight + self.spelling_weight > 1:
            raise ConfigError(
                f"spelling_weight: ctc_weight + spelling_weight must be <= 1, got {self.ctc_weight} + "
                f"{self.spelling_weight}"
            )

    def with_overrides(self, **overrides) -> GenerationConfig:
        """A copy with `overrides` (None values ignored); `greedy=True` is shorthand for `do_sample=False`."""
        if overrides.pop("greedy", False):
            overrides["do_sample"] = False
        if isinstance(overrides.get("stop"), str):
            overrides["stop"] = (overrides["stop"],)
        if isinstance(overrides.get("stop"), list):
            overrides["stop"] = tuple(overrides["stop"])
        unknown = set(overrides) - set(OPTION_NAMES)
        if unknown:
            raise ConfigError(f"unknown generation option(s) {sorted(unknown)}; known: {', '.join(OPTION_NAMES)}")
        return dataclasses.replace(self, **{k: v for k, v in overrides.items() if v is not None})

    def to_generate_kwargs(self, eos_token_id, tokenizer=None) -> dict:
        """Keyword arguments for transformers' `generate`."""
        kwargs = {
            "max_new_tokens": self.max_new_tokens,
            "do_sample": self.do_sample,
            "repetition_penalty": self.repetition_penalty,
            "eos_token_id": eos_token_id,
        }
        if self.num_beams > 1:
            kwargs["num_beams"] = self.num_beams
        if self.do_sample:
            kwargs.update(temperature=self.temperature, top_p=self.top_p)
            if self.top_k is not None:
                kwargs["top_k"] = self.top_k
        if self.stop:
            kwargs.update(stop_strings=list(self.stop), tokenizer=tokenizer)
        return kwargs


OPTIONS = tuple(dataclasses.fields(GenerationConfig))
OPTION_NAMES = tuple(spec.name for spec in OPTIONS)


def option_type(spec: dataclasses.Field) -> type:
    """The Python type of an option's values: int, float, bool, str (for `stop`: its items)."""
    text = str(spec.type)
    for name, kind in (("bool", bool), ("int", int), ("float", float), ("str", str), ("tuple[str", str)):
        if text.startswith(name):
            return kind
    raise TypeError(f"option {spec.name}: unsupported type {text}")


def check(spec: dataclasses.Field, value: Any) -> None:
    """Raise ConfigError naming the option unless `value` has its type and lies in its range."""
    name, kind, meta = spec.name, option_type(spec), spec.metadata
    if value is None:
        if spec.default is None:
            return
        raise ConfigError(f"{name}: may not be null")
    if name == "stop":
        if not isinstance(value, tuple) or not all(isinstance(s, str) and s for s in value):
            raise ConfigError(f"stop: expected non-empty strings, got {value!r}")
        try:
            for number, text in enumerate(value):
                check_text(text, f"stop[{number}]")
        except TextError as err:
            raise ConfigError(str(err)) from None
        longest = max(value, key=len, default="")
        if len(longest) > MAX_STOP_CHARS:
            raise ConfigError(f"stop: at most {MAX_STOP_CHARS} characters a string, got {len(longest)}")
        return
    is_bool = isinstance(value, bool)
    fits = (
        is_bool
        if kind is bool
        else (not is_bool and isinstance(value, int if kind is int else (int, float)))
        if kind in (int, float)
        else isinstance(value, kind)
    )
    if not fits:
        raise ConfigError(f"{name}: expected {kind.__name__}, got {value!r}")
    if meta.get("choices") and value not in meta["choices"]:
        raise ConfigError(f"{name}: expected one of {', '.join(meta['choices'])}, got {value!r}")
    if kind in (int, float):
        if isinstance(value, float) and not math.isfinite(value):
            raise ConfigError(f"{name}: expected a finite number, got {value!r}")
        low, high = meta.get("low"), meta.get("high")
        below = low is not None and (value <= low if meta.get("open_low") else value < low)
        if below or (high is not None and value > high):
            left = "(" if meta.get("open_low") else "["
            raise ConfigError(f"{name}: expected a value in {left}{low}, {high}], got {value!r}")


def parse_value(spec: dataclasses.Field, text: str) -> Any:
    """An option's value from text (a form field, a `key=value` override): typed, not yet range-checked."""
    kind = option_type(spec)
    if spec.name == "stop":
        return (text,)
    if text.strip().lower() in ("none", "null", "") and spec.default is None:
        return None
    try:
        if kind is bool:
            lowered = text.strip().lower()
            if lowered not in ("true", "false", "1", "0", "yes", "no"):
                raise ValueError(text)
            return lowered in ("true", "1", "yes")
        return kind(text)
    except ValueError as err:
        raise ConfigError(f"{spec.name}: expected {kind.__name__}, got {text!r}") from err


# ---- the command line ---------------------------------------------------------------------------------------------
def add_option_flags(parser: argparse.ArgumentParser) -> None:
    """One flag per option (`--num-beams`, `--ctc-weight`, ...), defaults None (the model's own), in two titled
    groups: what a user needs first, and the expert decoding knobs. `--greedy` is shorthand for `--no-do-sample`."""
    groups = {BASIC: parser.add_argument_group(BASIC), EXPERT: parser.add_argument_group(EXPERT)}
    groups[BASIC].add_argument("--greedy", action="store_true", help="greedy decoding (same as --no-do-sample)")
    for spec in OPTIONS:
        meta, kind = spec.metadata, option_type(spec)
        flag = "--" + spec.name.replace("_", "-")
        bounds = "" if meta["low"] is None else f" {'(' if meta['open_low'] else '['}{meta['low']}, {meta['high']}]"
        default = "" if spec.default in (None, ()) else f"; release default {spec.default}"
        help_text = f"{meta['help']}{bounds}{default}"
        group = groups[meta["group"]]
        if kind is bool:
            group.add_argument(flag, action=argparse.BooleanOptionalAction, default=None, help=help_text)
        elif spec.name == "stop":
            group.add_argument(flag, action="append", default=None, metavar="TEXT", help=help_text)
        elif meta.get("choices"):
            group.add_argument(flag, choices=meta["choices"], default=None, help=help_text)
        else:
            group.add_argument(flag, type=kind, default=None, metavar=kind.__name__.upper(), help=help_text)


def option_overrides(args: argparse.Namespace) -> dict:
    """The options given on the command line (the others stay the model's), range-checked now, so a bad value
    is a one-line error before any model loads.

    Raises:
        ConfigError: naming the option whose value is out of its range.
    """
    overrides = {name: getattr(args, name, None) for name in OPTION_NAMES}
    if getattr(args, "greedy", False):
        overrides["do_sample"] = False
    if overrides.get("stop") is not None:
        overrides["stop"] = tuple(overrides["stop"])
    overrides = {k: v for k, v in overrides.items() if v is not None}
    GenerationConfig(**overrides)  # each value against its declaration (the model's defaults come later)
    return overrides
