"""Build a synthetic speech corpus: plan (see `plan.py`), render the missing wavs in parallel, write the
manifests and the recipe.

Layout under the output folder:

    train.jsonl  valid.jsonl  test_heldout_voice.jsonl   one sample per line (flat manifest form)
    corpus.json                                          recipe, counts, voices per split, engine versions
    failures.jsonl                                       sentences an engine failed on (skipped), if any
    audio/<split>/<id>-<hash>.wav                        16 kHz mono 16-bit

Resumable: every wav and manifest is written under a temporary name and renamed, and a wav already there is
not rendered again; a killed run is resumed by running the same command.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from soundwave.atomic import write_text
from soundwave.synth import engines
from soundwave.synth.augment import add_noise, normalize_peak
from soundwave.synth.plan import Job, VoicePlan, plan_corpus, resolve_voices
from soundwave.synth.recipe import SPLITS, SynthRecipe, recipe_dict
from soundwave.synth.voices import SynthesisError, engine_versions, get_voice


@dataclass
class CorpusReport:
    """What a build did: counts, skips and time, as printed by the CLI and stored in corpus.json."""

    out_dir: Path
    counts: dict[str, dict[str, int]]  # split -> {"total", "task:<t>", "voice:<v>"} -> count
    rendered: int  # wavs synthesized in this run
    reused: int  # wavs already there from an earlier run
    failures: list[dict[str, str]]  # {"id", "voice", "reason"} for each skipped sentence
    missing_voices: dict[str, str]  # voice -> why it was left out (with the install command)
    seconds: float
    audio_seconds: dict[str, float] = field(default_factory=dict)  # split -> total duration
    engine_seconds: dict[str, float] = field(default_factory=dict)  # engine -> time spent in this run
    engine_counts: dict[str, int] = field(default_factory=dict)  # engine -> wavs rendered in this run


def render_job(job: Job, out_dir: Path) -> tuple[str, float | None, str | None, float]:
    """Render one job's wav (if missing). Returns (id, duration or None, failure reason or None, seconds)."""
    start = time.perf_counter()
    assert job.voice is not None and job.transcript is not None and job.audio is not None
    try:
        wave = engines.render(get_voice(job.voice), job.transcript, speed=job.speed, pitch=job.pitch)
        if job.snr_db is not None:
            wave = add_noise(wave, job.snr_db, np.random.default_rng(job.seed), job.noise_exponent)
        wave = normalize_peak(wave, job.peak)
        engines.write_wav(out_dir / job.audio, wave)
    except SynthesisError as err:
        return job.id, None, str(err), time.perf_counter() - start
    except Exception as err:  # an engine bug must cost one sentence, not the run; it is reported
        return (
            job.id,
            None,
            f"{job.voice}: unexpected {type(err).__name__}: {err}",
            time.perf_counter() - start,
        )
    return job.id, wave.size / engines.SAMPLE_RATE, None, time.perf_counter() - start


def _forget_engines() -> None:
    """In a new worker: drop engine state inherited from the parent (ONNX sessions are not fork-safe, and a
    festival process must not be shared); each worker loads its own on first use."""
    from soundwave.synth import festival, neural

    festival.forget_process()
    neural.forget_models()


def _render_in_worker(args: tuple[Job, Path]) -> tuple[str, float | None, str | None, float]:
    return render_job(*args)


def _render_all(todo: list[Job], out_dir: Path, workers: int, progress: bool) -> list[tuple]:
    from tqdm import tqdm

    bar = tqdm(total=len(todo), desc="synth", unit="utt", disable=not progress, smoothing=0.05)
    results, failed = [], 0
    if workers <= 1:
        stream = (render_job(job, out_dir) for job in todo)
        pool = None
    else:
        # fork: no re-import of torch & co in each worker (~10 s); engines are reset in `_forget_engines`
        method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
        pool = multiprocessing.get_context(method).Pool(workers, initializer=_forget_engines)
        stream = pool.imap_unordered(_render_in_worker, [(job, out_dir) for job in todo], chunksize=4)
    try:
        for result in stream:
            results.append(result)
            failed += result[2] is not None
            bar.update()
            if failed:
                bar.set_postfix(failed=failed, refresh=False)
    finally:
        bar.close()
        if pool is not None:
            pool.terminate()
            pool.join()
    return results


def _remove_stale_temporaries(out_dir: Path) -> int:
    stale = [p for p in (out_dir / "audio").glob("*/.*.tmp-*") if p.is_file()]
    for path in stale:
        path.unlink()
    return len(stale)


def manifest_line(job: Job, duration: float | None) -> dict[str, Any]:
    """The flat manifest record of a job (audio path relative to the manifest's folder)."""
    voice = get_voice(job.voice) if job.voice else None
    record: dict[str, Any] = {
        "id": job.id,
        "audio": job.audio,
        "prompt": job.prompt,
        "answer": job.answer,
        "transcript": job.transcript,
        "task": job.task,
        "duration": None if duration is None else round(duration, 3),
        "speaker": voice.speaker if voice else None,
        "voice": job.voice,
        "engine": voice.engine if voice else None,
        "gender": voice.gender if voice else None,
    }
    if voice:
        record.update(accent=voice.accent, speed=job.speed, pitch=job.pitch, snr_db=job.snr_db, peak=job.peak)
    record.update(job.extra)
    return record


def _duration(path: Path) -> float:
    import soundfile as sf

    return sf.info(str(path)).frames / engines.SAMPLE_RATE


def build_corpus(
    out_dir: str | os.PathLike,
    recipe: SynthRecipe,
    workers: int = 2,
    progress: bool = True,
) -> CorpusReport:
    """Build (or resume) the corpus of `recipe` under `out_dir`.

    Args:
        out_dir: the output folder (created; an earlier partial build there is resumed).
        recipe: what to build.
        workers: processes rendering audio (1: in this process).
        progress: show a progress bar.

    Returns:
        The report (also written, with the recipe, to `out_dir/corpus.json`).

    Raises:
        ConfigError: no usable voice for a split (the message names the install commands).
    """
    start = time.perf_counter()
    out_dir = Path(out_dir)
    voices = resolve_voices(recipe)
    jobs = plan_corpus(recipe, voices)
    out_dir.mkdir(parents=True, exist_ok=True)
    _remove_stale_temporaries(out_dir)
    audio_jobs = [job for split in SPLITS for job in jobs[split] if job.audio]
    todo = [job for job in audio_jobs if not (out_dir / job.audio).is_file()]
    results = _render_all(todo, out_dir, workers, progress) if todo else []
    by_id = {job.id: job for job in todo}
    failures = [{"id": i, "voice": str(by_id[i].voice), "reason": reason} for i, _, reason, _ in results if reason]
    durations = {i: d for i, d, reason, _ in results if reason is None}
    engine_seconds: Counter[str] = Counter()
    engine_counts: Counter[str] = Counter()
    for i, _, reason, seconds in results:
        engine = get_voice(str(by_id[i].voice)).engine
        engine_seconds[engine] += seconds
        engine_counts[engine] += reason is None

    failed_ids = {f["id"] for f in failures}
    counts: dict[str, dict[str, int]] = {}
    audio_seconds: dict[str, float] = {}
    for split in SPLITS:
        lines = []
        for job in jobs[split]:
            if job.id in failed_ids:
                continue
            duration = None
            if job.audio:
                duration = durations.get(job.id) or _duration(out_dir / job.audio)
            lines.append(manifest_line(job, duration))
        write_text(out_dir / f"{split}.jsonl", "".join(json.dumps(line) + "\n" for line in lines))
        tally = Counter({"total": len(lines)})
        tally.update(f"task:{line['task']}" for line in lines)
        tally.update(f"voice:{line['voice']}" for line in lines if line["voice"])
        counts[split] = dict(sorted(tally.items()))
        audio_seconds[split] = round(sum(line["duration"] or 0.0 for line in lines), 1)
    if failures:
        write_text(out_dir / "failures.jsonl", "".join(json.dumps(f) + "\n" for f in failures))
    else:
        (out_dir / "failures.jsonl").unlink(missing_ok=True)

    report = CorpusReport(
        out_dir, counts, rendered=len(todo) - len(failures), reused=len(audio_jobs) - len(todo),
        failures=failures, missing_voices=voices.missing, seconds=time.perf_counter() - start,
        audio_seconds=audio_seconds, engine_seconds={k: round(v, 2) for k, v in engine_seconds.items()},
        engine_counts=dict(engine_counts),
    )  # fmt: skip
    write_text(out_dir / "corpus.json", json.dumps(corpus_record(recipe, voices, report), indent=2) + "\n")
    return report


def corpus_record(recipe: SynthRecipe, voices: VoicePlan, report: CorpusReport) -> dict[str, Any]:
    """What corpus.json holds: the recipe, the voices of each split, counts, failures and engine versions."""

    def describe(voice_ids: list[str]) -> list[dict[str, str]]:
        return [{"id": v, **{k: getattr(get_voice(v), k) for k in ("engine", "gender", "speaker", "accent")}}
                for v in voice_ids]  # fmt: skip

    return {
        "format": "soundwave-synth-corpus/1",
        "recipe": recipe_dict(recipe),
        "seed": recipe.seed,
        "voices": {
            "train": describe(sorted(voices.train)),
            "valid": describe(sorted(voices.train)),
            "test_heldout_voice": describe(list(voices.held_out)),
        },
        "held_out_voices": list(voices.held_out),
        "missing_voices": voices.missing,
        "counts": report.counts,
        "audio_seconds": report.audio_seconds,
        "failures": {
            "count": len(report.failures),
            "by_voice": dict(Counter(f["voice"] for f in report.failures)),
        },
        "engine_versions": engine_versions(),
        "build": {"rendered": report.rendered, "reused": report.reused, "seconds": round(report.seconds, 1)},
    }


def summary(report: CorpusReport) -> str:
    """A human-readable summary: counts per split, task and voice, skipped sentences, time."""
    lines = [f"corpus in {report.out_dir} ({report.seconds:.1f} s; {report.rendered} wavs rendered, "
             f"{report.reused} reused)"]  # fmt: skip
    for split, tally in report.counts.items():
        tasks = ", ".join(f"{k[5:]} {v}" for k, v in tally.items() if k.startswith("task:"))
        hours = report.audio_seconds.get(split, 0.0) / 3600
        lines.append(f"  {split}: {tally['total']} samples ({tasks}); {hours:.2f} h of audio")
        voices = ", ".join(f"{k[6:]} {v}" for k, v in tally.items() if k.startswith("voice:"))
        if voices:
            lines.append(f"    voices: {voices}")
    for engine, count in sorted(report.engine_counts.items()):
        seconds = report.engine_seconds.get(engine, 0.0)
        rate = count / seconds if seconds else 0.0
        lines.append(f"  {engine}: {count} wavs in {seconds:.1f} s of worker time ({rate:.1f} utt/s per worker)")
    for voice, reason in report.missing_voices.items():
        lines.append(f"  left out {voice}: {reason}")
    if report.failures:
        lines.append(f"  skipped {len(report.failures)} sentence(s) an engine failed on (see failures.jsonl):")
        reasons = Counter(f["reason"] for f in report.failures)
        for reason, count in reasons.most_common(10):
            lines.append(f"    {count} x {reason}")
    return "\n".join(lines)
