"""Copy a trained compact model into the package as a bundled default: float16 weights, no machine paths.

python scripts/bundle_model.py runs/mini/stage4a/final soundwave/assets/soundwave-mini \\
    --generation repetition_penalty=1.2

`--generation KEY=VALUE` (repeatable) writes the model's decoding defaults (generation.yaml: soundwave.options keys;
`transcribe.KEY=VALUE` for its transcription defaults).
"""

import argparse
import shutil
import tempfile
from pathlib import Path

import torch
import yaml
from safetensors.torch import load_file, save_file

from soundwave.atomic import atomic_dir


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path)
    parser.add_argument("target", type=Path)
    parser.add_argument("--generation", action="append", default=[], metavar="KEY=VALUE", help="decoding default")
    args = parser.parse_args()
    from soundwave.inference.generation import DEFAULTS_FILE, ModelDecoding

    generation = {}
    for item in args.generation:
        key, sep, value = item.partition("=")
        if not sep:
            parser.error(f"--generation expects KEY=VALUE, got {item!r}")
        section, dot, name = key.partition(".")
        if dot:
            generation.setdefault(section, {})[name] = yaml.safe_load(value)
        else:
            generation[key] = yaml.safe_load(value)
    ModelDecoding.from_mapping(generation)  # fail before writing anything
    from soundwave.model.builder import load_model_spec
    from soundwave.model.compact import load_compact, save_compact

    spec = load_model_spec(yaml.safe_load((args.source / "model.yaml").read_text())["model"])
    model, tokenizer, extractor = load_compact(args.source)
    with tempfile.TemporaryDirectory() as scratch:
        resaved = Path(scratch) / "model"
        save_compact(model, tokenizer, extractor, resaved, spec)  # the current compact layout (smallest)
        with atomic_dir(args.target) as tmp:
            for item in resaved.iterdir():
                if item.is_file() and item.name != "weights.safetensors":
                    shutil.copy2(item, tmp / item.name)
            weights = load_file(str(resaved / "weights.safetensors"))
            half = {k: (v.to(torch.float16) if v.is_floating_point() else v).contiguous() for k, v in weights.items()}
            save_file(half, str(tmp / "weights.safetensors"), metadata={"format": "pt"})
            meta = yaml.safe_load((tmp / "model.yaml").read_text())
            for base in meta["base"].values():
                base["path"] = None  # resolved by name (soundwave models prepare NAME) on the user's machine
            (tmp / "model.yaml").write_text(yaml.safe_dump(meta, sort_keys=False, allow_unicode=True))
            if generation:
                (tmp / DEFAULTS_FILE).write_text(yaml.safe_dump(generation, sort_keys=False))
    size = sum(f.stat().st_size for f in args.target.iterdir()) / 1e6
    print(f"{args.target} ({size:.1f} MB)")


if __name__ == "__main__":
    main()
