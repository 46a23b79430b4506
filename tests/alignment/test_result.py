"""Words and segments in OpenAI's `verbose_json` shape, validated by the official client's own models."""

from openai.types.audio import TranscriptionVerbose

from soundwave.alignment.result import verbose_json
from soundwave.alignment.segments import split_segments
from soundwave.alignment.words import build_words, split_words

TEXT = "He was not an ill disposed young man. Not at all."


def test_verbose_json_parses_with_the_openai_client():
    spans = [(0.4 * i, 0.4 * i + 0.3, 0.9) for i in range(len(TEXT.split()))]
    spans[2] = None  # one interpolated word
    words = build_words(tuple(split_words(TEXT)), spans, duration=5.0)
    body = verbose_json(TEXT, 5.0, words, split_segments(words, TEXT))
    parsed = TranscriptionVerbose.model_validate(body, strict=True)
    assert parsed.text == TEXT and parsed.duration == 5.0
    assert [w.word for w in parsed.words] == TEXT.split()
    assert [(s.id, s.text) for s in parsed.segments] == [
        (0, "He was not an ill disposed young man."),
        (1, "Not at all."),
    ]
    assert body["words"][2]["interpolated"] is True and "interpolated" not in body["words"][1]
    assert set(verbose_json(TEXT, 5.0, None, None)) == {"task", "language", "duration", "text"}
