"""experiments/mini/bench/lexical_recall.py, its pure parts: alignment-based recall, count buckets, by source."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from tests.bench_script import BENCH, bench_script

MINI_BENCH = BENCH.parent / "experiments" / "mini" / "bench"


@pytest.fixture(scope="module")
def lexical():
    with bench_script("lexical_recall", MINI_BENCH) as module:
        yield module


def test_recalled_words_follow_the_alignment_not_set_membership(lexical):
    # "the" occurs in the hypothesis, but the alignment substitutes the reference's second "the"
    assert lexical.recalled_words("the cat sat on the mat", "the cat sat on a mat") == [True] * 4 + [False, True]
    assert lexical.recalled_words("the cat", "") == [False, False]
    assert lexical.recalled_words("", "anything") == []


def test_buckets_cover_every_count(lexical):
    assert [lexical.bucket_of(n) for n in (0, 1, 9, 10, 99, 100, 10**6)] == [
        "never", "1-9", "1-9", "10-99", "10-99", "100+", "100+",
    ]  # fmt: skip
    with pytest.raises(ValueError):
        lexical.bucket_of(-1)


def test_recall_by_bucket_counts_each_reference_word_once(lexical):
    rows = [
        {"normalized_reference": "common rare", "normalized_hypothesis": "common"},
        {"normalized_reference": "common unseen", "normalized_hypothesis": "common unseen"},
    ]
    counts = Counter({"common": 500, "rare": 3})
    recall = lexical.recall_by_bucket(rows, counts)
    assert recall == {"never": (1, 1), "1-9": (0, 1), "10-99": (0, 0), "100+": (2, 2)}


def test_training_counts_read_transcripts_and_name_a_bad_line(lexical, tmp_path):
    good = tmp_path / "train.jsonl"
    good.write_text(json.dumps({"transcript": "Hello, hello world."}) + "\n\n" + json.dumps({"prompt": "x"}) + "\n")
    assert lexical.training_counts([good]) == Counter({"hello": 2, "world": 1})
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"transcript": "fine"}) + "\n{not json\n")
    with pytest.raises(SystemExit, match="bad.jsonl:2"):
        lexical.training_counts([bad])


def test_wer_by_source_groups_unknown_ids_apart(lexical):
    rows = [
        {"id": "a", "normalized_reference": "one two", "normalized_hypothesis": "one two"},
        {"id": "b", "normalized_reference": "three four", "normalized_hypothesis": "three"},
    ]
    assert lexical.wer_by_source(rows, {"a": "everyday"}) == {"?": (1, 0.5), "everyday": (1, 0.0)}


def test_recipe_transcripts_are_the_planned_training_transcripts(lexical, tmp_path):
    from soundwave.synth.plan import plan_corpus, resolve_voices
    from soundwave.synth.recipe import load_recipe

    shipped = (Path(__file__).parents[2] / "configs" / "synth" / "asr_voices.yaml").read_text()
    recipe_file = tmp_path / "small.yaml"
    recipe_file.write_text(shipped.replace("num_train: 16000", "num_train: 12"))
    recipe = load_recipe(recipe_file)
    planned = plan_corpus(recipe, resolve_voices(recipe, check_installed=False))["train"]

    texts = lexical.recipe_transcripts(recipe_file)

    assert len(texts) == 12 and texts == [job.answer for job in planned if job.task == "asr"]
