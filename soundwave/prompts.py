"""Prompts: the release's hand-built Llama-3 prompt (spec 3.6), and chat-template prompts for other LLMs.

The release tokenizes each piece separately, and the Llama-3 tokenizer prepends `<|begin_of_text|>` to every
call, so its prompt holds many inner BOS tokens. We rebuild it token for token.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from soundwave.errors import TextError

AUDIO_PATCH = "<audio_patch>"
TRANSCRIBE_PROMPT = "What does the person say?"  # what a transcript is asked with (CLI, server, eval)
RELEASE_SYSTEM_PROMPT = (
    "You are a helpful language and speech assistant. You are able to understand the speech content that the "
    "user provides, and assist the user with a variety of tasks using natural language."
)
START_HEADER, END_HEADER, EOT = "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"


@dataclass(frozen=True)
class Turn:
    """One chat turn. A user turn with `audio=True` carries the audio placeholder before its text."""

    role: str  # "system" | "user" | "assistant"
    text: str
    audio: bool = False


def check_text(text: str, where: str, placeholder: str | None = None) -> str:
    """`text` itself, if it can be tokenized as text: a lone surrogate ("\\ud800", or a command-line byte that is
    not UTF-8) cannot be encoded, and the audio `placeholder` would be taken for a recording's place.

    Raises:
        TextError: naming `where` and what is wrong.
    """
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as err:
        bad = text[err.start]
        raise TextError(
            f"{where}: character {err.start} ({bad!r}) is a lone surrogate, not valid Unicode text"
        ) from None
    if placeholder and placeholder in text:
        raise TextError(f"{where}: holds {placeholder!r}, which marks where a recording goes; it cannot be text")
    return text


def _ids(tokenizer, text: str) -> list[int]:
    return list(tokenizer(text).input_ids)


def release_prompt_ids(tokenizer, prompt: str, system: str | None = None) -> list[int]:
    """The release's prompt for one audio + one instruction, token for token (spec 3.6)."""
    return release_chat_ids(tokenizer, [Turn("user", prompt, audio=True)], system=system)


def release_chat_ids(tokenizer, turns: Sequence[Turn], system: str | None = None, generation: bool = True) -> list[int]:
    """The release's layout for a whole conversation; ends with the assistant header when `generation`."""
    tok = tokenizer.convert_tokens_to_ids
    bos, start, end, eot = tok(tokenizer.bos_token), tok(START_HEADER), tok(END_HEADER), tok(EOT)
    ids = [bos]
    for turn in [Turn("system", RELEASE_SYSTEM_PROMPT if system is None else system), *turns]:
        ids += [start, *_ids(tokenizer, turn.role), end]
        if turn.audio:
            ids += _ids(tokenizer, "\n" + AUDIO_PATCH) + _ids(tokenizer, turn.text)
        else:
            ids += _ids(tokenizer, "\n") + _ids(tokenizer, turn.text)
        ids.append(eot)
    if generation:
        ids += [start, *_ids(tokenizer, "assistant"), end, *_ids(tokenizer, "\n")]
    return ids


def chat_template_ids(
    tokenizer,
    turns: Sequence[Turn],
    system: str | None = None,
    generation: bool = True,
    placeholder: str = AUDIO_PATCH,
) -> list[int]:
    """A prompt in the tokenizer's own chat template; audio turns get `placeholder` + newline before the text."""
    messages = [{"role": "system", "content": RELEASE_SYSTEM_PROMPT if system is None else system}]
    for turn in turns:
        content = f"{placeholder}\n{turn.text}" if turn.audio else turn.text
        messages.append({"role": turn.role, "content": content})
    text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=generation)
    return list(tokenizer(text, add_special_tokens=False).input_ids)
