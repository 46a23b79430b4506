"""Read CTranslate2 `model.bin` files (the format faster-whisper ships) without the ctranslate2 package.

Layout (little-endian), as written by ctranslate2's `ModelSpec.save`, binary versions 4 to 6:

    u32 version | str spec_name | u32 revision | u32 n_variables
    n_variables x (str name | u8 rank | rank x u32 dims | u8 dtype | u32 n_bytes | n_bytes raw)
    u32 n_aliases | n_aliases x (str alias | str target)

where `str` is a u16 byte count followed by that many bytes, the last one a NUL. A model may be split into
parts (`model.bin.part1`, `model.bin.part2`, ...) read as one stream, concatenated in the order given.
"""

from __future__ import annotations

import math
import os
import struct
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import torch

from soundwave.errors import CheckpointError

SUPPORTED_VERSIONS = range(4, 7)  # 4 introduced the dtype byte; 6 is current (ctranslate2 4.x)
MAX_RANK = 8

# dtype byte -> torch dtype (ctranslate2's DataType enum order)
DTYPES: dict[int, torch.dtype] = {
    0: torch.float32,
    1: torch.int8,
    2: torch.int16,
    3: torch.int32,
    4: torch.float16,
    5: torch.bfloat16,
}


@dataclass
class Ct2Model:
    """The content of a CTranslate2 model file.

    Attributes:
        spec: spec class name written by the exporter, e.g. "WhisperSpec".
        version: binary format version.
        revision: spec revision.
        variables: name -> tensor, in file order (scalars are 0-d tensors).
        aliases: alias name -> the variable name it shares storage with.
    """

    spec: str
    version: int
    revision: int
    variables: dict[str, torch.Tensor] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)

    def __getitem__(self, name: str) -> torch.Tensor:
        """Return variable `name`, following aliases; raises CheckpointError naming the key if absent."""
        target = self.aliases.get(name, name)
        if target not in self.variables:
            raise CheckpointError(
                f"CTranslate2 {self.spec} model has no variable {name!r}; "
                "the file is not the model type expected here, or was exported by an unsupported converter"
            )
        return self.variables[target]

    def __contains__(self, name: str) -> bool:
        return self.aliases.get(name, name) in self.variables

    def scalar(self, name: str, default: int | None = None) -> int | None:
        """Return the integer value of a 0-d variable, or `default` if it is absent."""
        if name not in self:
            return default
        return int(self[name].item())


class _PartsReader:
    """Reads several files as one stream; short reads raise CheckpointError naming the file and offset."""

    def __init__(self, paths: Sequence[Path]) -> None:
        self.paths = list(paths)
        self.sizes = [p.stat().st_size for p in self.paths]
        self.index = 0
        self.offset = 0  # offset into the concatenated stream
        self.handle: BinaryIO = open(self.paths[0], "rb")  # closed in close()

    @property
    def total(self) -> int:
        return sum(self.sizes)

    def close(self) -> None:
        self.handle.close()

    def read_into(self, buffer: bytearray, what: str) -> None:
        view = memoryview(buffer)
        filled = 0
        while filled < len(buffer):
            got = self.handle.readinto(view[filled:])
            if got:
                filled += got
                continue
            if self.index + 1 >= len(self.paths):
                names = " + ".join(p.name for p in self.paths)
                raise CheckpointError(
                    f"{names}: truncated at byte {self.offset + filled} of {self.total} while reading {what} "
                    f"({len(buffer) - filled} more bytes needed); the file is incomplete: reinstall or "
                    "re-copy it"
                    + ("" if len(self.paths) == 1 else ", and check that every part is present and in order")
                )
            self.handle.close()
            self.index += 1
            self.handle = open(self.paths[self.index], "rb")
        self.offset += filled

    def read(self, n: int, what: str) -> bytes:
        buffer = bytearray(n)
        self.read_into(buffer, what)
        return bytes(buffer)

    def unpack(self, fmt: str, what: str) -> tuple:
        return struct.unpack("<" + fmt, self.read(struct.calcsize("<" + fmt), what))

    def string(self, what: str) -> str:
        (length,) = self.unpack("H", f"length of {what}")
        raw = self.read(length, what)
        if length == 0 or raw[-1] != 0:
            raise self.corrupt(f"{what} is not a NUL-terminated string")
        try:
            return raw[:-1].decode("utf-8")
        except UnicodeDecodeError as err:
            raise self.corrupt(f"{what} is not valid UTF-8") from err

    def corrupt(self, problem: str) -> CheckpointError:
        names = " + ".join(p.name for p in self.paths)
        return CheckpointError(
            f"{names}: not a valid CTranslate2 model.bin near byte {self.offset} ({problem}); "
            "the file is corrupt, was cut or its parts are out of order: reinstall or re-copy it"
        )


def _read_variable(reader: _PartsReader, index: int) -> tuple[str, torch.Tensor]:
    name = reader.string(f"name of variable #{index}")
    (rank,) = reader.unpack("B", f"rank of {name!r}")
    if rank > MAX_RANK:
        raise reader.corrupt(f"variable {name!r} has rank {rank}")
    dims = reader.unpack(f"{rank}I", f"shape of {name!r}")
    (dtype_id,) = reader.unpack("B", f"dtype of {name!r}")
    if dtype_id not in DTYPES:
        raise reader.corrupt(f"variable {name!r} has unknown dtype id {dtype_id}")
    dtype = DTYPES[dtype_id]
    (n_bytes,) = reader.unpack("I", f"byte count of {name!r}")
    expected = math.prod(dims) * dtype.itemsize
    if n_bytes != expected:
        raise reader.corrupt(f"variable {name!r} of shape {list(dims)} and {dtype} has {n_bytes} bytes, not {expected}")
    buffer = bytearray(n_bytes)
    reader.read_into(buffer, f"data of {name!r}")
    tensor = torch.frombuffer(buffer, dtype=dtype) if n_bytes else torch.empty(0, dtype=dtype)
    return name, tensor.reshape(dims)


def read_ct2_model(paths: str | os.PathLike | Sequence[str | os.PathLike]) -> Ct2Model:
    """Read a CTranslate2 model file, or the parts of a split one concatenated in the order given.

    Args:
        paths: `model.bin`, or a list of part files (`[model.bin.part1, model.bin.part2]`).

    Returns:
        The spec name, format version and every variable as a CPU tensor in its stored dtype.

    Raises:
        CheckpointError: a file is missing, truncated, has trailing bytes, or a header field is implausible.
    """
    part_paths = [Path(paths)] if isinstance(paths, str | os.PathLike) else [Path(p) for p in paths]
    if not part_paths:
        raise CheckpointError("read_ct2_model: no model file given")
    for path in part_paths:
        if not path.is_file():
            raise CheckpointError(f"{path}: CTranslate2 model file not found")
    reader = _PartsReader(part_paths)
    try:
        (version,) = reader.unpack("I", "format version")
        if version not in SUPPORTED_VERSIONS:
            raise reader.corrupt(
                f"format version {version}; this reader handles versions "
                f"{SUPPORTED_VERSIONS.start}-{SUPPORTED_VERSIONS.stop - 1}"
            )
        spec = reader.string("spec name")
        (revision, count) = reader.unpack("II", "spec revision and variable count")
        model = Ct2Model(spec=spec, version=version, revision=revision)
        for index in range(count):
            name, tensor = _read_variable(reader, index)
            if name in model.variables:
                raise reader.corrupt(f"variable {name!r} appears twice")
            model.variables[name] = tensor
        (n_aliases,) = reader.unpack("I", "alias count")
        for index in range(n_aliases):
            alias = reader.string(f"alias #{index}")
            target = reader.string(f"target of alias {alias!r}")
            if target not in model.variables:
                raise reader.corrupt(f"alias {alias!r} points to missing variable {target!r}")
            model.aliases[alias] = target
        if reader.offset != reader.total:
            raise reader.corrupt(f"{reader.total - reader.offset} unexpected bytes after the last alias")
    finally:
        reader.close()
    return model
