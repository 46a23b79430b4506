"""Where `soundwave transcribe` and `soundwave align` write what they found, in the format asked for.

| --format | one input file                    | several input files                              |
|----------|-----------------------------------|--------------------------------------------------|
| jsonl    | one JSON line per file, to -o or stdout (the default)                                |
| json     | that row as one JSON object       | one JSON array of the rows, when all are done    |
| srt, vtt | subtitles (segments) to -o or stdout | -o names a folder: FOLDER/<audio stem>.srt ...  |
| txt      | the text, a line per segment      | as srt                                           |

A row keeps the transcription's fields (`file`, `text`, `error`, `seconds`) and adds `words` (`{word, start, end,
confidence}`) and `segments` (`{id, start, end, text}`) when timestamps were asked for: the shape of OpenAI's
`verbose_json`.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any, TextIO

from soundwave.alignment.result import Segment, Word
from soundwave.alignment.subtitles import to_srt, to_text, to_vtt
from soundwave.errors import ConfigError

FORMATS = ("jsonl", "json", "srt", "vtt", "txt")
SEGMENT_FORMATS = {"srt": to_srt, "vtt": to_vtt, "txt": to_text}  # one document per input file


def record(
    file: str,
    text: str,
    error: str | None,
    seconds: float,
    words: list[Word] | None = None,
    segments: list[Segment] | None = None,
) -> dict[str, Any]:
    """One JSON row: the transcription's fields, plus `words` and `segments` when there are any."""
    row: dict[str, Any] = {"file": file, "text": text, "error": error, "seconds": seconds}
    if words is not None:
        row["words"] = [w.to_dict() for w in words]
    if segments is not None:
        row["segments"] = [s.to_dict() for s in segments]
    return row


def writes_folder(fmt: str, files: list[str]) -> bool:
    """Whether `fmt` for `files` writes one document per input into a folder (srt, vtt, txt of several files)."""
    return fmt in SEGMENT_FORMATS and len(files) > 1


def check_folder(output: str, fmt: str, files: list[str]) -> None:
    """Raise ConfigError unless `output` is a folder that can take one `fmt` file per input (before the model
    loads; a single output file is checked by `soundwave.cli.transcribe.check_output_file`)."""
    if output == "-" or not Path(output).is_dir():
        raise ConfigError(
            f"--format {fmt} writes one file per input: give an existing folder as --output (got {output!r})"
        )
    if not os.access(output, os.W_OK):
        raise ConfigError(f"--output {output}: not writable")
    stems = [Path(f).stem for f in files]
    if len(set(stems)) < len(stems):
        raise ConfigError(f"--format {fmt}: two inputs share a file name, so their {fmt} files would collide")


class OutputWriter:
    """Writes rows (jsonl, json) or one document per input (srt, vtt, txt) as the table above says."""

    def __init__(self, fmt: str, output: str, several: bool) -> None:
        self.fmt, self.output, self.several = fmt, output, several
        self.rows: list[dict[str, Any]] = []
        self.out: TextIO | None = None
        if fmt not in SEGMENT_FORMATS or not several:
            self.out = sys.stdout if output == "-" else open(output, "w", encoding="utf-8")  # noqa: SIM115

    def write(self, row: dict[str, Any], segments: list[Segment] | None) -> None:
        """One input's row; `segments` for srt/vtt/txt (None: the row's text as one line, for txt)."""
        if self.fmt == "jsonl":
            self._stream().write(json.dumps(row, ensure_ascii=False) + "\n")
            self._stream().flush()
        elif self.fmt == "json":
            self.rows.append(row)
        elif row["error"] is None:
            if segments is None:
                document = row["text"] + "\n"
            else:
                document = SEGMENT_FORMATS[self.fmt](segments)
            if self.several:
                target = Path(self.output) / f"{Path(row['file']).stem}.{self.fmt}"
                target.write_text(document, encoding="utf-8")
            else:
                self._stream().write(document)

    def close(self) -> None:
        if self.fmt == "json":
            document = self.rows if self.several or len(self.rows) != 1 else self.rows[0]
            self._stream().write(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
        if self.out is not None and self.out is not sys.stdout:
            self.out.close()
        elif self.out is sys.stdout:
            sys.stdout.flush()

    def _stream(self) -> TextIO:
        assert self.out is not None
        return self.out
