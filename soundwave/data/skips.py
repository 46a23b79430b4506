"""Count the samples that were left out, by source and reason, so no sample disappears silently.

Every place that drops a sample calls `SkipCounter.skip(source, code, detail)`. In strict mode that raises
instead. The counts are logged after loading and saved next to the run (`save`).
"""

from __future__ import annotations

import json
import logging
import os
from collections import Counter, defaultdict

from soundwave.atomic import write_text
from soundwave.errors import ManifestError

# Reasons found after a record parsed (the parse-time ones are the codes in soundwave.data.manifest).
TOO_SHORT = "too_short"
TOO_LONG = "too_long"
UNREADABLE_AUDIO = "unreadable_audio"

_EXAMPLES_PER_REASON = 3  # details kept per (source, reason), to show what went wrong


class SkipCounter:
    """Skipped samples counted by (source, reason), with the first few details of each.

    Args:
        strict: raise `ManifestError` at the first skip instead of counting it.
    """

    def __init__(self, strict: bool = False) -> None:
        self.strict = strict
        self.counts: Counter[tuple[str, str]] = Counter()
        self.examples: dict[tuple[str, str], list[str]] = defaultdict(list)

    def skip(self, source: str, code: str, detail: str) -> None:
        """Record one skipped sample.

        Args:
            source: the source's label.
            code: the kind of fault (``too_long``, ``audio_not_found``, ...).
            detail: what exactly, naming the file/line/row.

        Raises:
            ManifestError: in strict mode, always (with `detail`).
        """
        if self.strict:
            raise ManifestError(f"{source}: {detail} (data.strict is on; turn it off to skip and count such samples)")
        key = (source, code)
        self.counts[key] += 1
        if len(self.examples[key]) < _EXAMPLES_PER_REASON:
            self.examples[key].append(detail)

    @property
    def total(self) -> int:
        """Number of samples skipped in all."""
        return sum(self.counts.values())

    def by_source(self, source: str) -> dict[str, int]:
        """Reason -> count for one source."""
        return {code: n for (name, code), n in sorted(self.counts.items()) if name == source}

    def to_dict(self) -> dict[str, dict[str, dict]]:
        """``{source: {reason: {"count": n, "examples": [...]}}}``, JSON-ready."""
        out: dict[str, dict[str, dict]] = {}
        for (source, code), n in sorted(self.counts.items()):
            out.setdefault(source, {})[code] = {"count": n, "examples": list(self.examples[(source, code)])}
        return out

    def summary(self) -> str:
        """One line per source: ``asr: 12 skipped (too_long 10, audio_not_found 2)``."""
        if not self.counts:
            return "no samples skipped"
        lines = []
        for source in sorted({name for name, _ in self.counts}):
            reasons = self.by_source(source)
            listed = ", ".join(f"{code} {n}" for code, n in sorted(reasons.items(), key=lambda x: -x[1]))
            lines.append(f"{source}: {sum(reasons.values())} skipped ({listed})")
        return "\n".join(lines)

    def log(self, logger: logging.Logger, level: int = logging.WARNING) -> None:
        """Log the summary and the first example of each reason (at INFO if nothing was skipped)."""
        if not self.counts:
            logger.info("data: no samples skipped")
            return
        for line in self.summary().splitlines():
            logger.log(level, "data: %s", line)
        for (source, code), examples in sorted(self.examples.items()):
            if examples:
                logger.log(level, "data: %s %s, e.g. %s", source, code, examples[0])

    def save(self, path: str | os.PathLike) -> None:
        """Atomically write `to_dict()` as JSON."""
        write_text(path, json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n")
