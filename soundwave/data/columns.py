"""Column names of tabular sources (HF datasets, audio-folder metadata) and the `remap_keys` renaming.

After renaming, a table has ``audio`` (absent for text-only data) and at least one of
``transcription``/``transcript``/``answer``; ``prompt``, ``task``, ``id`` and ``duration`` are optional.
Other columns are kept in `Sample.extra` when they hold plain values.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from soundwave.data.manifest import AUDIO_TASKS_DEFAULT
from soundwave.errors import ConfigError

AUDIO = "audio"
TEXT_COLUMNS = ("transcription", "transcript", "answer")  # at least one must be present
KNOWN = ("id", "audio", "prompt", "answer", "transcription", "transcript", "task", "duration")


def renamed(columns: Sequence[str], remap: Mapping[str, str], label: str) -> list[str]:
    """The column names after `remap` (old -> new), checked.

    Raises:
        ConfigError: a remapped column does not exist, or a new name collides with a kept column.
    """
    missing = [old for old in remap if old not in columns]
    if missing:
        raise ConfigError(
            f"source {label!r}: remap_keys names column(s) {missing} that the data does not have "
            f"(columns: {', '.join(columns)})"
        )
    result = [remap.get(c, c) for c in columns]
    doubled = sorted({c for c in result if result.count(c) > 1})
    if doubled:
        raise ConfigError(
            f"source {label!r}: after remap_keys several columns are called {doubled} "
            f"(columns: {', '.join(columns)}); remap the other one away too"
        )
    return result


def check_columns(columns: Sequence[str], label: str, task: str | None, prompt: str | None) -> None:
    """Fail early, naming the columns, when a table cannot yield samples (instead of skipping every row).

    Args:
        columns: column names after renaming.
        label: the source's label, for messages.
        task: the source's configured task (None: "asr" with audio).
        prompt: the prompt for rows without one (None: only ASR rows may lack one).

    Raises:
        ConfigError: no audio and no non-ASR task, no text column, or (non-ASR task) no answer or prompt.
    """
    listed = ", ".join(columns)
    has_audio = AUDIO in columns
    effective_task = task or (AUDIO_TASKS_DEFAULT if has_audio else None)
    if not has_audio and "task" not in columns and effective_task in (None, AUDIO_TASKS_DEFAULT):
        raise ConfigError(
            f"source {label!r} has no 'audio' column (columns: {listed}); map yours with remap_keys "
            "(e.g. {speech: audio}), or set task (e.g. task: text) for a text-only source"
        )
    if not any(c in columns for c in TEXT_COLUMNS):
        raise ConfigError(
            f"source {label!r} has none of the columns {list(TEXT_COLUMNS)} (columns: {listed}); "
            "map one with remap_keys, e.g. {text: transcription}"
        )
    if effective_task not in (None, AUDIO_TASKS_DEFAULT):
        if "answer" not in columns:
            raise ConfigError(
                f"source {label!r}: task {effective_task!r} needs an 'answer' column (columns: {listed}); "
                "map one with remap_keys"
            )
        if prompt is None and "prompt" not in columns:
            raise ConfigError(
                f"source {label!r} has no 'prompt' column and no prompt is configured for its task "
                f"{effective_task!r}; set `prompt` on the source or data.prompt"
            )
