"""Exceptions a user can trigger. Each message names the file, key or row at fault and what to do."""


class SoundwaveError(Exception):
    """Base class for every error this package raises on purpose."""


class ConfigError(SoundwaveError, ValueError):
    """A config file, key or value is invalid (unknown key, wrong type, bad override)."""


class AudioError(SoundwaveError, ValueError):
    """An audio input cannot be used (unreadable, empty, not audio, too long)."""


class CheckpointError(SoundwaveError):
    """A checkpoint is missing files or tensors, or has tensors of the wrong shape."""


class ModelNotFoundError(SoundwaveError, FileNotFoundError):
    """A model name or path does not resolve to anything loadable."""


class ManifestError(SoundwaveError, ValueError):
    """A data manifest is malformed or empty."""
