"""`amount` strings: the rows they keep, as HF split slicing would."""

from __future__ import annotations

import pytest

from soundwave.data.amount import parse_amount


@pytest.mark.parametrize(
    ("amount", "rows"),
    [
        (":100%", range(0, 10)),
        (":1000", range(0, 10)),
        (":3", range(0, 3)),
        ("3", range(0, 3)),
        ("10%:20%", range(1, 2)),
        ("50%", range(0, 5)),
        ("-4:", range(6, 10)),
        ("2:-2", range(2, 8)),
        ("8:2", range(8, 8)),
        (" 25% : 75% ", range(2, 8)),  # 2.5 and 7.5 round to even, like Python's round
    ],
)
def test_rows_kept_out_of_ten(amount, rows):
    assert parse_amount(amount).select(10) == rows


@pytest.mark.parametrize("amount", ["", "half", "1:2:3", "150%", "1.5", "10%%"])
def test_bad_amounts(amount):
    with pytest.raises(ValueError, match="amount"):
        parse_amount(amount)
