# The two set-up commands of the README, plus developer shortcuts.
PY ?= python3
DEMO_AUDIO ?= tests/assets/speech/librivox/sense_and_sensibility_01_austen_64kb-0930.wav
DEMO_MODEL ?= soundwave-mini

.PHONY: setup demo test test-fast lint

setup:
	bash scripts/setup.sh

demo: setup  ## install, then answer a question about a bundled LibriVox recording
	$(PY) -m soundwave transcribe $(DEMO_AUDIO) --model $(DEMO_MODEL)  # decoded with the model's own generation.yaml

test: setup  ## install, then run the whole test suite (slow real-weight tests included)
	HF_HUB_OFFLINE=1 $(PY) -m pytest -q -m "slow or not slow" --durations=15

test-fast:
	HF_HUB_OFFLINE=1 $(PY) -m pytest -q -m "not slow"

lint:
	ruff format --check soundwave tests && ruff check soundwave tests
