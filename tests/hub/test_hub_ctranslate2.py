"""The CTranslate2 model.bin reader on small files written by the test writer: values, parts, broken files."""

from __future__ import annotations

import struct
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from soundwave.errors import CheckpointError
from soundwave.hub.ctranslate2 import read_ct2_model

Writer = Callable[..., Path]


def _variables() -> dict[str, torch.Tensor]:
    return {
        "encoder/num_heads": torch.tensor(6, dtype=torch.int16),
        "decoder/activation": torch.tensor(3, dtype=torch.int8),
        "decoder/embeddings/weight": torch.randn(7, 4).half(),
        "a/f32": torch.randn(2, 3, 4),
        "a/bf16": torch.randn(5).bfloat16(),
        "a/i32": torch.arange(6, dtype=torch.int32).reshape(3, 2),
        "a/empty": torch.zeros(0, 3),
    }


def test_reads_every_dtype_scalar_and_alias(write_ct2: Writer, tmp_path: Path) -> None:
    variables = _variables()
    path = write_ct2(
        tmp_path / "model.bin", variables, aliases={"decoder/projection/weight": "decoder/embeddings/weight"}
    )

    model = read_ct2_model(path)

    assert (model.spec, model.version, model.revision) == ("WhisperSpec", 6, 3)
    assert list(model.variables) == list(variables)
    for name, expected in variables.items():
        assert model[name].dtype == expected.dtype and torch.equal(model[name], expected), name
    assert model.scalar("encoder/num_heads") == 6
    assert model.scalar("decoder/num_heads", default=8) == 8
    assert torch.equal(model["decoder/projection/weight"], variables["decoder/embeddings/weight"])
    assert "decoder/projection/weight" in model and "nope" not in model


@pytest.mark.parametrize("cut", [3, 40, -7])  # inside the version, inside a header, inside the last tensor
def test_split_parts_read_as_one_stream(write_ct2: Writer, tmp_path: Path, cut: int) -> None:
    variables = _variables()
    data = write_ct2(tmp_path / "model.bin", variables).read_bytes()
    (tmp_path / "model.bin.part1").write_bytes(data[:cut])
    (tmp_path / "model.bin.part2").write_bytes(data[cut:])

    model = read_ct2_model([tmp_path / "model.bin.part1", tmp_path / "model.bin.part2"])

    assert all(torch.equal(model[name], tensor) for name, tensor in variables.items())


def test_parts_in_the_wrong_order_are_rejected(write_ct2: Writer, tmp_path: Path) -> None:
    data = write_ct2(tmp_path / "model.bin", _variables()).read_bytes()
    (tmp_path / "p1").write_bytes(data[:50])
    (tmp_path / "p2").write_bytes(data[50:])

    with pytest.raises(CheckpointError, match="out of order"):
        read_ct2_model([tmp_path / "p2", tmp_path / "p1"])


@pytest.mark.parametrize("keep", [2, 30, 0.5, -1])  # cut in the version, a header, a tensor, the alias table
def test_truncated_file_names_file_offset_and_variable(write_ct2: Writer, tmp_path: Path, keep: float) -> None:
    path = write_ct2(tmp_path / "model.bin", _variables(), aliases={"x": "a/f32"})
    data = path.read_bytes()
    cut = int(len(data) * keep) if isinstance(keep, float) else keep % len(data)
    path.write_bytes(data[:cut])

    with pytest.raises(CheckpointError, match=rf"model\.bin: truncated at byte {cut} of {cut} while reading"):
        read_ct2_model(path)


def test_short_second_part_says_to_check_the_parts(write_ct2: Writer, tmp_path: Path) -> None:
    data = write_ct2(tmp_path / "model.bin", _variables()).read_bytes()
    (tmp_path / "model.bin.part1").write_bytes(data[: len(data) // 2])
    (tmp_path / "model.bin.part2").write_bytes(data[len(data) // 2 : -10])

    with pytest.raises(CheckpointError, match="every part is present and in order"):
        read_ct2_model([tmp_path / "model.bin.part1", tmp_path / "model.bin.part2"])


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        (lambda d: struct.pack("<I", 99) + d[4:], "format version 99"),
        (lambda d: d + b"\0\0", "2 unexpected bytes after the last alias"),
    ],
)
def test_corrupt_header_or_trailing_bytes(write_ct2: Writer, tmp_path: Path, patch, message: str) -> None:
    path = write_ct2(tmp_path / "model.bin", _variables())
    path.write_bytes(patch(path.read_bytes()))

    with pytest.raises(CheckpointError, match=message):
        read_ct2_model(path)


def test_corrupt_dtype_and_byte_count(write_ct2: Writer, tmp_path: Path) -> None:
    one = {"w": torch.ones(2, 2)}
    data = write_ct2(tmp_path / "model.bin", one).read_bytes()
    dtype_at = data.index(b"w\0") + 2 + 1 + 8  # name, rank byte, two u32 dims
    (tmp_path / "bad_dtype.bin").write_bytes(data[:dtype_at] + b"\x09" + data[dtype_at + 1 :])
    (tmp_path / "bad_count.bin").write_bytes(data[: dtype_at + 1] + struct.pack("<I", 15) + data[dtype_at + 5 :])

    with pytest.raises(CheckpointError, match="unknown dtype id 9"):
        read_ct2_model(tmp_path / "bad_dtype.bin")
    with pytest.raises(CheckpointError, match=r"'w' of shape \[2, 2\] and torch.float32 has 15 bytes, not 16"):
        read_ct2_model(tmp_path / "bad_count.bin")


def test_missing_file_and_missing_variable(write_ct2: Writer, tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="not found"):
        read_ct2_model(tmp_path / "absent.bin")
    model = read_ct2_model(write_ct2(tmp_path / "model.bin", {"w": torch.ones(1)}))
    with pytest.raises(CheckpointError, match="has no variable 'encoder/conv1/weight'"):
        model["encoder/conv1/weight"]
