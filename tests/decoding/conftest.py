from pathlib import Path

import pytest

REFERENCE = Path(__file__).parents[1] / "assets" / "soundwave-reference"


@pytest.fixture(scope="session")
def pipe():
    from soundwave.inference.pipeline import Pipeline

    return Pipeline.from_pretrained(str(REFERENCE / "checkpoint"))


@pytest.fixture(scope="session")
def clips() -> list[str]:
    return [
        str(REFERENCE / "audio" / name) for name in ("example_1.wav", "sense_and_sensibility_01_austen_64kb-0880.wav")
    ]
