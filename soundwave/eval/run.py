"""`run_eval(config)`: load the model an `EvalConfig` names (a Soundwave Pipeline or the Whisper baseline),
evaluate it and write the report. The `soundwave eval` command is a thin wrapper around this.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

from soundwave.atomic import check_output_dir
from soundwave.data.manifest import read_manifest
from soundwave.errors import ConfigError, ModelNotFoundError, SoundwaveError
from soundwave.eval.config import EvalConfig
from soundwave.eval.evaluate import DEFAULT_PROMPTS, evaluate
from soundwave.eval.interface import GenerationPipeline
from soundwave.eval.report import EvalReport

logger = logging.getLogger(__name__)


def resolve_model(name_or_path: str) -> Path:
    """A local model folder for a name ("whisper-tiny.en") or a path, through `soundwave.hub`.

    Raises:
        ModelNotFoundError: the name does not resolve.
    """
    try:
        from soundwave.hub import resolve_model_path
    except ImportError:  # the hub module is optional here: a plain folder still works without it
        path = Path(name_or_path)
        if path.is_dir():
            return path
        raise ModelNotFoundError(
            f"{name_or_path!r} is not a folder, and soundwave.hub.resolve_model_path is not available to "
            "resolve model names"
        ) from None
    return Path(resolve_model_path(name_or_path))


def load_model(config: EvalConfig) -> GenerationPipeline:
    """The object to evaluate: `WhisperBaseline` for `baseline: whisper`, else `soundwave.Pipeline`."""
    config.require_inputs()
    assert config.model is not None  # for type checkers: require_inputs checked it
    if config.baseline == "whisper":
        from soundwave.eval.baseline import WhisperBaseline

        if config.quantize or config.compile:
            raise ConfigError("quantize, compile: the Whisper baseline runs as transformers loads it; leave them out")

        return WhisperBaseline.from_pretrained(
            resolve_model(config.model),
            device=config.device,
            dtype=config.dtype,
            language=config.language,
            name=config.model,
        )
    try:
        from soundwave import Pipeline  # type: ignore[attr-defined]
    except ImportError as err:
        raise SoundwaveError(
            f"soundwave.Pipeline is not available ({err}); evaluate plain Whisper with --baseline whisper"
        ) from err
    options = {"device": config.device, "dtype": config.dtype, "quantize": config.quantize, "compile": config.compile}
    return Pipeline.from_pretrained(config.model, **{k: v for k, v in options.items() if v is not None})


def generation_options(config: EvalConfig) -> dict[str, Any]:
    """The decoding options passed to the pipeline (the config's; the model's own for the others)."""
    return dict(config.generation)


def default_output_dir(config: EvalConfig) -> Path:
    """runs/eval/<model>[-whisper-baseline]/<manifest stem>-<task>."""
    model = re.sub(r"[^\w.-]+", "_", Path(str(config.model)).name) or "model"
    if config.baseline:
        model += f"-{config.baseline}-baseline"
    return Path("runs") / "eval" / model / f"{Path(str(config.data)).stem}-{config.task}"


def run_eval(config: EvalConfig, progress: bool = True) -> tuple[EvalReport, Path]:
    """Load the model, evaluate it on `config.data`, and write the report.

    Returns:
        The report and the folder it was written to.

    Raises:
        ConfigError, ModelNotFoundError, ManifestError: with what to fix.
    """
    config.require_inputs()
    output = Path(config.output) if config.output else default_output_dir(config)
    check_output_dir(output, "--output")
    # a missing, binary or empty manifest is named before the model loads (evaluate reads it again, cheaply)
    read_manifest(config.data, default_prompt=DEFAULT_PROMPTS.get(config.task))
    pipeline = load_model(config)
    label = config.model if not config.baseline else f"{config.model} ({config.baseline} baseline)"
    if config.task == "align":  # word times, not text: its own evaluation and report
        from soundwave.eval.align import evaluate_alignment

        source = config.align_source
        report = evaluate_alignment(pipeline, config.data, config.limit, output, label, progress, source)
        return report, output  # type: ignore[return-value]
    report = evaluate(
        pipeline,
        str(config.data),
        config.task,
        limit=config.limit,
        batch_size=config.batch_size,
        generation=generation_options(config),
        output_dir=output,
        language=config.language,
        model_name=label,
        progress=progress,
        group_by=config.group_by,
    )
    return report, output
