#!/usr/bin/env bash
# What the lent GPU machine needs for bench/gpu_throughput.py, prepared here (it has no internet):
#   .whl/            wheels for Python 3.12 x86-64 that its Python lacks (installed there with --target /tmp/site)
#   .gpu-tokenizer/  SmolLM2's tokenizer files (tokenizer.json + config + chat template; never the weights)
# Both are git-ignored (.git/info/exclude), so the device run must carry them: carry [".whl", ".gpu-tokenizer"].
#   bash scripts/gpu_wheels.sh                   # the wheels below + the tokenizer
#   bash scripts/gpu_wheels.sh NAME==VERSION ... # more wheels
#
# The GPU machine has torch 2.11, transformers 5.17, peft, accelerate, safetensors, numpy, pyyaml, tqdm, rich,
# sacrebleu, pyarrow, tokenizers, huggingface_hub and matplotlib. bench/gpu_throughput.py imports `soundwave`
# (pipeline, model, builder) and needs nothing else: soundfile, soxr, jiwer, rapidfuzz, whisper-normalizer, gguf,
# datasets, fastapi, starlette, pydantic, uvicorn and python-multipart are imported only by file decoding,
# resampling, eval, serving and hub code, never on its path (the clips are 16 kHz arrays). Checked by running it
# with `python -S` over a site-packages holding only those packages and their dependencies, transformers 5.17.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
TOKENIZER_SOURCE=${SOUNDWAVE_TOKENIZER:-$HOME/.cache/soundwave/models/smollm2-135m-instruct}
TOKENIZER_FILES=(tokenizer.json tokenizer_config.json special_tokens_map.json chat_template.jinja
  generation_config.json)

NEEDED=()  # NAME==VERSION of each wheel the benchmark's import chain needs there; none so far
NEEDED+=("$@")

mkdir -p .whl .gpu-tokenizer
for spec in "${NEEDED[@]}"; do
  "$PY" -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux2014_x86_64 --platform manylinux1_x86_64 --platform any -d .whl "$spec"
done
echo "gpu_wheels: .whl/ holds $(find .whl -type f -name '*.whl' | wc -l) wheel(s), $(du -sh .whl | cut -f1)"

for name in "${TOKENIZER_FILES[@]}"; do
  if [ -f "$TOKENIZER_SOURCE/$name" ]; then cp "$TOKENIZER_SOURCE/$name" .gpu-tokenizer/; fi
done
[ -f .gpu-tokenizer/tokenizer.json ] || { echo "gpu_wheels: no tokenizer.json in $TOKENIZER_SOURCE" >&2; exit 1; }
echo "gpu_wheels: .gpu-tokenizer/ holds $(ls .gpu-tokenizer | tr '\n' ' ')($(du -sh .gpu-tokenizer | cut -f1))"

exclude=$(git rev-parse --git-path info/exclude)
for path in /.whl/ /.gpu-tokenizer/; do
  grep -qxF "$path" "$exclude" 2>/dev/null || echo "$path" >>"$exclude"
done
