"""One clip, one model, one set of options: the same text through the Python API, `soundwave transcribe`,
`POST /v1/audio/transcriptions` and `soundwave eval --task asr`, with the model folder's transcription defaults."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from soundwave.cli import main
from soundwave.inference.pipeline import Pipeline
from soundwave.serving import ServerSettings, create_app

REFERENCE = Path(__file__).parents[1] / "assets" / "soundwave-reference"
TRANSCRIBE_DEFAULTS = "max_new_tokens: 6\ntranscribe:\n  num_beams: 2\n  ctc_weight: 0.5\n"


def four_ways(model: str, clip: str, tmp_path: Path, flags: list[str], options: dict) -> list[str]:
    """The clip's transcript from the Python API, the CLI, the server and eval, in that order."""
    pipe = Pipeline.from_pretrained(model)
    texts = [pipe.transcribe(clip, **options).text]
    out = tmp_path / "t.jsonl"
    assert main(["transcribe", clip, "--model", model, *flags, "-o", str(out)]) == 0
    texts.append(json.loads(out.read_text())["text"])
    with TestClient(create_app(pipe, ServerSettings(model_name="m"))) as client, open(clip, "rb") as audio:
        form = {key: str(value) for key, value in options.items()}
        response = client.post("/v1/audio/transcriptions", files={"file": ("a.wav", audio)}, data=form)
        assert response.status_code == 200, response.text
        texts.append(response.json()["text"])
    manifest = tmp_path / "m.jsonl"
    manifest.write_text(json.dumps({"audio": clip, "transcript": "x", "task": "asr"}) + "\n")
    report = tmp_path / "report"
    eval_flags = ["--model", model, "--data", str(manifest), "--task", "asr", "--output", str(report)]
    assert main(["eval", *eval_flags, *flags, "--no-progress"]) in (0, 1)
    rows = [json.loads(line) for line in (report / "utterances.jsonl").read_text().splitlines()]
    texts.append(rows[0]["hypothesis"])
    return texts


@pytest.fixture
def reference_with_defaults(tmp_path) -> str:
    """The reference checkpoint with a `generation.yaml` whose transcription defaults differ from generation's."""
    folder = tmp_path / "model"
    folder.mkdir()
    for item in (REFERENCE / "checkpoint").iterdir():
        (folder / item.name).symlink_to(item)
    (folder / "generation.yaml").write_text(TRANSCRIBE_DEFAULTS)
    return str(folder)


def test_model_folder_transcription_defaults_apply(reference_with_defaults):
    pipe = Pipeline.from_pretrained(reference_with_defaults)
    assert pipe.transcription.num_beams == 2 and pipe.transcription.ctc_weight == 0.5
    assert not pipe.transcription.do_sample and pipe.transcription.max_new_tokens == 6
    assert pipe.generation.num_beams == 1 and pipe.generation.do_sample  # other prompts: the release's defaults
    clip = str(REFERENCE / "audio" / "example_1.wav")
    plain = pipe.transcribe(clip, num_beams=1, ctc_weight=0.0).text
    assert pipe.transcribe(clip).text != plain  # the defaults change the answer: the tests below can fail


@pytest.mark.parametrize(
    ("flags", "options"),
    [([], {}), (["--num-beams", "1", "--ctc-weight", "0.25"], {"num_beams": 1, "ctc_weight": 0.25})],
)
def test_same_text_through_api_cli_server_and_eval(reference_with_defaults, tmp_path, flags, options):
    clip = str(REFERENCE / "audio" / "example_1.wav")
    texts = four_ways(reference_with_defaults, clip, tmp_path, flags, options)
    assert len(set(texts)) == 1, texts


@pytest.mark.slow
def test_same_text_for_the_bundled_model(tmp_path):
    clip = str(
        Path(__file__).parents[1] / "assets" / "speech" / "librivox" / "sense_and_sensibility_01_austen_64kb-0930.wav"
    )
    texts = four_ways("soundwave-mini", clip, tmp_path, [], {})
    assert len(set(texts)) == 1, texts
    assert texts[0]  # a real model says something
