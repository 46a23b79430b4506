"""How much of a dataset to use: the SpeechLLM seed's ``amount`` strings, like HF split slicing.

``":100%"`` all, ``":1000"`` the first 1000, ``"10%:20%"`` the second tenth, ``"-500:"`` the last 500,
``"1000"`` / ``"10%"`` the first 1000 / first tenth. Percentages round to the nearest row, as
`datasets`' split slicing does by default.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_BOUND_RE = re.compile(r"^\s*(-?\d+)\s*$|^\s*(\d+(?:\.\d+)?)\s*%\s*$")


@dataclass(frozen=True)
class Bound:
    """One end of a slice: a row count (may be negative, counted from the end) or a percentage."""

    value: float
    percent: bool

    def resolve(self, n: int) -> int:
        """The row index this bound names in a dataset of `n` rows, clipped to [0, n]."""
        index = round(n * self.value / 100) if self.percent else int(self.value)
        if index < 0:
            index += n
        return min(max(index, 0), n)


@dataclass(frozen=True)
class Amount:
    """A parsed ``amount`` string; `select(n)` gives the rows it keeps."""

    start: Bound | None
    end: Bound | None

    def select(self, n: int) -> range:
        """The row indices kept out of `n` rows."""
        start = self.start.resolve(n) if self.start else 0
        end = self.end.resolve(n) if self.end else n
        return range(start, max(start, end))


def _bound(text: str, amount: str) -> Bound | None:
    if not text.strip():
        return None
    match = _BOUND_RE.match(text)
    if match is None:
        raise ValueError(
            f"amount {amount!r}: {text.strip()!r} is neither a row count nor a percentage "
            "(write e.g. ':100%', ':1000', '10%:20%')"
        )
    if match.group(1) is not None:
        return Bound(int(match.group(1)), percent=False)
    value = float(match.group(2))
    if value > 100:
        raise ValueError(f"amount {amount!r}: {value:g}% is over 100%")
    return Bound(value, percent=True)


def parse_amount(amount: str) -> Amount:
    """Parse ``start:end`` (either side optional) or a lone ``end``.

    Raises:
        ValueError: the string is not of that form; the message shows valid examples.
    """
    if amount.count(":") > 1:
        raise ValueError(f"amount {amount!r}: expected at most one ':' (write e.g. '10%:20%')")
    start, sep, end = amount.partition(":")
    if not sep:
        start, end = "", start
    parsed = Amount(_bound(start, amount), _bound(end, amount))
    if parsed.start is None and parsed.end is None and not sep:
        raise ValueError(f"amount {amount!r} is empty (write ':100%' for all rows)")
    return parsed
