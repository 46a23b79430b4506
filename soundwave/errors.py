"""Exceptions a user can trigger. Each message names the file, key or row at fault and what to do."""


class SoundwaveError(Exception):
    """Base class for every error this package raises on purpose."""


class ConfigError(SoundwaveError, ValueError):
    """A config file, key or value is invalid (unknown key, wrong type, bad override)."""


class AudioError(SoundwaveError, ValueError):
    """An audio input cannot be used (unreadable, empty, not audio, out of range, too long)."""


class AudioTooLong(AudioError):
    """Audio over a duration limit, found from its header or while decoding (never decoded past the limit).

    Attributes:
        seconds: the audio's length, or None when decoding stopped at the limit (it is longer).
        limit: the limit, in seconds.
    """

    def __init__(self, message: str, seconds: float | None, limit: float) -> None:
        super().__init__(message)
        self.seconds, self.limit = seconds, limit


class TextError(SoundwaveError, ValueError):
    """A prompt, message or stop string cannot be used (e.g. a lone surrogate: not encodable as UTF-8)."""


class CheckpointError(SoundwaveError):
    """A checkpoint is missing files or tensors, or has tensors of the wrong shape."""


class ModelNotFoundError(SoundwaveError, FileNotFoundError):
    """A model name or path does not resolve to anything loadable."""


class ManifestError(SoundwaveError, ValueError):
    """A data manifest is malformed or empty."""


class TrainingError(SoundwaveError):
    """Training cannot go on: the loss or the gradients stopped being finite (the run diverged)."""
