"""What each task asks and answers, with varied prompt phrasings.

- `asr`: the prompt asks for the words; the answer is the transcript.
- `qa`: the audio states a fact; the prompt asks a question about it; the answer comes from the sentence.
- `gender`: the prompt asks whether the speaker is male or female; the answer is the voice's gender.
- `text`: a text-only instruction with a known answer (no audio).

`draft` returns the text side of one sample; which voice speaks it is decided by the planner.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable
from dataclasses import dataclass, field

from soundwave.synth.facts import spoken_fact
from soundwave.synth.instructions import instruction
from soundwave.synth.text import SOURCES

ASR_PROMPTS = (
    "What does the person say?",
    "Transcribe the audio.",
    "Write down exactly what is said in the recording.",
    "Please transcribe this speech.",
    "What is being said?",
    "Repeat what the speaker said, word for word.",
    "Convert the speech to text.",
    "Give me a transcript of this audio.",
    "What words do you hear?",
    "Listen and write what you hear.",
)
QA_PROMPTS = (
    "{question}",
    "{question}",
    "Listen to the audio and answer: {question}",
    "Answer the question about the recording. {question}",
    "Based on what the speaker says: {question}",
    "{question} Answer briefly.",
    "From the audio, {question_lower}",
)
GENDER_PROMPTS = (
    "Is the speaker male or female?",
    "What is the gender of the speaker? Answer male or female.",
    "Is this voice male or female?",
    "Tell me if the speaker is male or female.",
    "Male or female speaker?",
    "Classify the speaker's gender as male or female.",
)


@dataclass(frozen=True)
class Draft:
    """The text side of one sample.

    Attributes:
        task: asr, qa, gender or text.
        prompt: the instruction the model sees.
        answer: the target; None for `gender`, whose answer is the voice's gender (filled in by the planner).
        spoken: the sentence the voice says (None for `text`).
        source: where the spoken or written text came from (everyday, fortune, words, fact, or an
            instruction kind).
        extra: more fields for the manifest (e.g. the fact template's index).
    """

    task: str
    prompt: str
    answer: str | None
    spoken: str | None
    source: str
    extra: dict[str, int | str] = field(default_factory=dict)


def text_bucket(text: str, holdout: float) -> str:
    """Which split a sentence belongs to, by its hash: "valid", "test" (each `holdout` of all) or "train"."""
    digest = hashlib.sha1(text.lower().encode()).digest()
    position = int.from_bytes(digest[:4], "big") / 2**32
    if position < holdout:
        return "valid"
    if position < 2 * holdout:
        return "test"
    return "train"


def _source(rng: random.Random, weights: dict[str, float]) -> str:
    names = sorted(name for name, weight in weights.items() if weight > 0)
    return rng.choices(names, weights=[weights[n] for n in names])[0]


def _asr(rng: random.Random, sources: dict[str, float]) -> Draft:
    source = _source(rng, sources)
    spoken = SOURCES[source](rng)
    return Draft("asr", rng.choice(ASR_PROMPTS), spoken, spoken, source)


def _qa(rng: random.Random, sources: dict[str, float]) -> Draft:
    fact = spoken_fact(rng)
    question_lower = fact.question[0].lower() + fact.question[1:]
    prompt = rng.choice(QA_PROMPTS).format(question=fact.question, question_lower=question_lower)
    return Draft("qa", prompt, fact.answer, fact.sentence, "fact", {"fact_template": fact.template})


def _gender(rng: random.Random, sources: dict[str, float]) -> Draft:
    source = _source(rng, {k: v for k, v in sources.items() if k != "words"} or sources)
    return Draft("gender", rng.choice(GENDER_PROMPTS), None, SOURCES[source](rng), source)


def _text(rng: random.Random, sources: dict[str, float]) -> Draft:
    kind, prompt, answer = instruction(rng)
    return Draft("text", prompt, answer, None, kind)


_DRAFTERS: dict[str, Callable[[random.Random, dict[str, float]], Draft]] = {
    "asr": _asr,
    "qa": _qa,
    "gender": _gender,
    "text": _text,
}


def draft(task: str, rng: random.Random, sources: dict[str, float], bucket: str, holdout: float) -> Draft:
    """Draw a sample of `task` whose sentence (or text prompt) hashes into `bucket` (see `text_bucket`).

    Redraws until the bucket matches, so train, valid and test never share a sentence.

    Raises:
        RuntimeError: no matching sentence in 10,000 draws (a pool too small for `holdout`).
    """
    for _ in range(10_000):
        result = _DRAFTERS[task](rng, sources)
        key = result.spoken if result.spoken is not None else result.prompt
        if holdout == 0 or text_bucket(key, holdout) == bucket:
            return result
    raise RuntimeError(f"no {task} sentence hashed into {bucket!r} in 10,000 draws; raise text_holdout")
