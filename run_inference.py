"""The release's command line, kept working: `python run_inference.py --base_model_path DIR [--audio_tower X]`.

Also accepts `--model_path`, `--audio` and `--prompt`. Uses `soundwave.load_model` + `soundwave.inference`, with the
release's generation defaults (sampling, temperature 0.2, top_p 0.9, 512 new tokens).
"""

import argparse
import sys

import soundwave

DEFAULT_AUDIO = "tests/assets/soundwave-reference/audio/example_1.wav"
DEFAULT_PROMPT = "Please transcribe the following audio and then answer based on the audio's transcription."


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base_model_path", "--model_path", dest="model_path", required=True)
    parser.add_argument(
        "--audio_tower", default=None, help="accepted for compatibility; the tower is in the checkpoint"
    )
    parser.add_argument("--audio", "--audio_path", dest="audio", default=DEFAULT_AUDIO)
    parser.add_argument("--prompt", default=DEFAULT_PROMPT)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--greedy", action="store_true")
    parser.add_argument("--max_new_tokens", type=int, default=512)
    args = parser.parse_args()
    try:
        model, audio_processor, tokenizer = soundwave.load_model(args.model_path, device=args.device)
        overrides = {"max_new_tokens": args.max_new_tokens} | ({"do_sample": False} if args.greedy else {})
        print(soundwave.inference(model, audio_processor, tokenizer, args.prompt, args.audio, **overrides))
    except soundwave.errors.SoundwaveError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
