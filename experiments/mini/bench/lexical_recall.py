"""Which words does a model miss? Word recall by how often the word was heard in training, and WER by text source.

    python experiments/mini/bench/lexical_recall.py runs/eval-3q/mini-ctc-synth_heldout_asr \\
        --train data/synth/train.jsonl data/synth-voices/train.jsonl --train-recipe configs/synth/asr_more.yaml \\
        --sources data/synth/test_heldout_voice.jsonl --plot experiments/mini/figures/lexical-recall.png

Reads the `utterances.jsonl` of a `soundwave eval` run. A reference word is recalled when jiwer's alignment of its
(Whisper-normalized) utterance matches it; its training count is how often it occurs in the training manifests'
transcripts (normalized the same way); `--train-recipe` adds a corpus's transcripts from its synth recipe, without
its audio. `--sources`: manifests that give each utterance id its text `source`.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter, defaultdict
from pathlib import Path

import jiwer

from soundwave.data.manifest import read_manifest
from soundwave.eval.metrics import wer
from soundwave.eval.normalize import normalize_text

BUCKETS = ((0, 0, "never"), (1, 9, "1-9"), (10, 99, "10-99"), (100, None, "100+"))


def bucket_of(count: int) -> str:
    """The name of the training-count bucket `count` falls in."""
    for low, high, name in BUCKETS:
        if count >= low and (high is None or count <= high):
            return name
    raise ValueError(f"negative count {count}")


def word_counts(texts) -> Counter:
    """How often each Whisper-normalized word occurs in `texts`."""
    return Counter(word for text in texts for word in normalize_text(text).split())


def manifest_transcripts(manifests: list[Path]) -> list[str]:
    """The `transcript` fields of JSONL `manifests` (their audio is not needed)."""
    texts = []
    for manifest in manifests:
        for number, line in enumerate(manifest.read_text().splitlines(), 1):
            if not line.strip():
                continue
            try:
                transcript = json.loads(line).get("transcript")
            except (json.JSONDecodeError, AttributeError) as error:
                raise SystemExit(f"{manifest}:{number}: not a JSON object ({error})") from error
            if transcript:
                texts.append(transcript)
    return texts


def training_counts(manifests: list[Path]) -> Counter:
    """How often each normalized word occurs in the transcripts of JSONL `manifests`."""
    return word_counts(manifest_transcripts(manifests))


def recipe_transcripts(path: Path) -> list[str]:
    """The training transcripts a `soundwave data synth` recipe plans (deterministic from its seed), no audio."""
    from soundwave.synth.plan import plan_corpus, resolve_voices
    from soundwave.synth.recipe import load_recipe

    recipe = load_recipe(path)
    jobs = plan_corpus(recipe, resolve_voices(recipe, check_installed=False))["train"]
    return [job.answer for job in jobs if job.task == "asr"]


def recalled_words(reference: str, hypothesis: str) -> list[bool]:
    """One flag per reference word: True where jiwer's alignment matches it in the hypothesis."""
    words = reference.split()
    if not words:
        return []
    hits = [False] * len(words)
    for chunk in jiwer.process_words(reference, hypothesis).alignments[0]:
        if chunk.type == "equal":
            for index in range(chunk.ref_start_idx, chunk.ref_end_idx):
                hits[index] = True
    return hits


def recall_by_bucket(rows: list[dict], counts: Counter) -> dict[str, tuple[int, int]]:
    """bucket -> (recalled words, reference words)."""
    table = {name: [0, 0] for _, _, name in BUCKETS}
    for row in rows:
        reference = row["normalized_reference"]
        for word, hit in zip(reference.split(), recalled_words(reference, row["normalized_hypothesis"]), strict=True):
            cell = table[bucket_of(counts[word])]
            cell[0] += hit
            cell[1] += 1
    return {name: (hits, total) for name, (hits, total) in table.items()}


def wer_by_source(rows: list[dict], source_of: dict[str, str]) -> dict[str, tuple[int, float]]:
    """text source -> (utterances, WER)."""
    groups = defaultdict(lambda: ([], []))
    for row in rows:
        references, hypotheses = groups[source_of.get(row["id"], "?")]
        references.append(row["normalized_reference"])
        hypotheses.append(row["normalized_hypothesis"])
    return {name: (len(refs), wer(refs, hyps)) for name, (refs, hyps) in sorted(groups.items())}


def plot(recall: dict[str, tuple[int, int]], title: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(recall)
    values = [100 * hits / total if total else 0.0 for hits, total in recall.values()]
    fig, ax = plt.subplots(figsize=(6, 3.5))
    bars = ax.bar(names, values, color="tab:blue")
    for bar, (hits, total) in zip(bars, recall.values(), strict=True):
        ax.annotate(f"{hits}/{total}", (bar.get_x() + bar.get_width() / 2, bar.get_height()), ha="center", va="bottom")
    ax.set(xlabel="times the word occurs in the training transcripts", ylabel="words recalled (%)", ylim=(0, 105))
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    tmp = path.with_name(path.name + ".tmp.png")
    fig.savefig(tmp, dpi=120)
    plt.close(fig)
    tmp.replace(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="a `soundwave eval` output folder (or its utterances.jsonl)")
    parser.add_argument("--train", type=Path, nargs="*", default=[], help="the training manifests")
    parser.add_argument("--train-recipe", type=Path, nargs="*", default=[], help="synth recipes trained on, too")
    parser.add_argument("--sources", type=Path, nargs="*", default=[], help="manifests with a `source` per id")
    parser.add_argument("--plot", type=Path, help="write the recall chart here (PNG)")
    args = parser.parse_args()
    utterances = args.run / "utterances.jsonl" if args.run.is_dir() else args.run
    if not utterances.is_file():
        parser.error(f"{utterances}: no such file (run `soundwave eval --output ...` first)")
    if not args.train and not args.train_recipe:
        parser.error("give the training data: --train MANIFEST... and/or --train-recipe RECIPE...")
    rows = [json.loads(line) for line in utterances.read_text().splitlines() if line.strip()]
    rows = [row for row in rows if not row.get("error")]
    counts = training_counts(args.train)
    for recipe in args.train_recipe:
        counts.update(word_counts(recipe_transcripts(recipe)))
    recall = recall_by_bucket(rows, counts)
    overall = wer([r["normalized_reference"] for r in rows], [r["normalized_hypothesis"] for r in rows])
    print(f"{utterances}: {len(rows)} utterances, WER {100 * overall:.1f} %")
    print("| times heard in training | words | recalled |\n|---|---|---|")
    for name, (hits, total) in recall.items():
        print(f"| {name} | {total} | {100 * hits / total if total else 0:.1f} % |")
    if args.sources:
        source_of = {s.id: s.extra.get("source", "?") for m in args.sources for s in read_manifest(m).samples}
        print("\n| text source | utterances | WER |\n|---|---|---|")
        for name, (n, score) in wer_by_source(rows, source_of).items():
            print(f"| {name} | {n} | {100 * score:.1f} % |")
    if args.plot:
        plot(recall, f"word recall by training count: {utterances.parent.name}", args.plot)
        print(f"chart: {args.plot}")


if __name__ == "__main__":
    main()
