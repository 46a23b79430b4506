"""Live: captions while someone speaks, then questions about what was said (`Pipeline.listen()`).

    stream = pipe.listen()
    for samples in microphone():                # float32 mono 16 kHz, pieces of any length (e.g. 100-500 ms)
        for event in stream.feed(samples):     # Event("partial" | "final", text, start, end)
            show(event)
    stream.finish()                            # the last finals
    stream.ask("What was decided?").text       # the LLM, over the vectors kept of everything heard

Captions come from the alignment adapter's token CTC alone (its greedy path as words, `greedy_words`; with
`beam` > 1 each final stretch read again by a prefix beam search, `prefix_beam_search`); the LLM runs only for
`ask`. How the stream is cut (docs/live.md):

- Every `step_seconds` of audio, on a fixed grid of the stream (so captions never depend on how the audio was cut
  into pieces), the window from its start to now is encoded (`Pipeline.encode`: Whisper, alignment adapter, CTC
  head, shrinking adapter); the CTC head's projection onto the vocabulary skips the settled frames (paper mode).
- Local agreement (whisper-streaming's LocalAgreement-2): the words from the settled frontier on that two
  successive windows agree on become final once complete (another word follows, or `settle_seconds` of audio
  have); the rest is the partial. With `beam` > 1 a final's text is the likeliest token sequence over its
  stretch's frames (summed over alignments), which may differ from the greedy words it settled on. Words still unsettled
  `window - context - step` seconds after they began are settled as the latest window heard them: the window has to
  move on.
- The window grows to `window_seconds`, then restarts `context_seconds` before the frontier; audio before it is
  dropped, so at most `window_seconds + step_seconds` of raw audio is ever held.
- The shrunk vectors of each settled stretch are kept (those of the window that settled it), the oldest dropped
  past `max_vectors` (default: the LLM's context). `ask` splices them into the prompt as they are (`EncodedAudio`):
  nothing heard is encoded again, and an answer about more than fits says where its audio began (`heard_from`).
"""

from __future__ import annotations

import dataclasses
import math
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch

from soundwave.alignment.beam import MAX_BEAM, FrameCandidates, prefix_beam_search
from soundwave.alignment.greedy import HeardWord, TokenTexts, emitted_tokens, greedy_words, words_text
from soundwave.alignment.timeline import FRAME_SAMPLES, FRAME_SECONDS
from soundwave.audio import SAMPLE_RATE, check_samples
from soundwave.errors import AudioError, ConfigError, SoundwaveError
from soundwave.inference.encoded import EncodedAudio
from soundwave.inference.pipeline import Item, Result
from soundwave.inference.stopping import StopFlag
from soundwave.prompts import Turn

STEP_SECONDS = 0.6  # new audio between two encodes
WINDOW_SECONDS = 5.0  # most audio encoded at once
CONTEXT_SECONDS = 1.5  # audio before the frontier a restarted window keeps (the encoder's left context)
SETTLE_SECONDS = 0.6  # audio after a stream's last word before it may be final (it could still grow)
BEAM = 1  # prefixes kept (and tokens tried a frame) when a final stretch is read again; 1: the greedy words
SETTLED_CTC_SECONDS = 0.5  # settled audio before the frontier whose CTC logits a window still computes
EVENT_TYPES = ("partial", "final")


@dataclass(frozen=True)
class Event:
    """A caption. A "partial" is the unsettled text from the last final on: it may still change and replaces the
    previous partial ("" clears it). A "final" never changes; the finals, in order, are the transcript.

    Attributes:
        type: "partial" or "final".
        text: the words, separated by spaces.
        start: seconds from the start of the stream to the first word; end: to the end of the last.
    """

    type: str
    text: str
    start: float
    end: float

    def to_dict(self) -> dict:
        return {"type": self.type, "text": self.text, "start": round(self.start, 3), "end": round(self.end, 3)}


@dataclass
class Answer(Result):
    """`ask`'s answer. `heard_from` > 0: the LLM heard the stream from there on only (the rest did not fit)."""

    heard_from: float = 0.0


@dataclass(frozen=True)
class _Window:
    """What one encode heard: its words, and its shrunk vectors and emitted tokens with their times."""

    words: list[HeardWord]
    vectors: torch.Tensor  # (K, D), one per kept CTC frame
    vector_times: np.ndarray  # (K,) seconds each vector's frame starts
    ids: np.ndarray  # (N,) emitted token ids
    id_times: np.ndarray  # (N,) seconds each starts
    start: int  # the stream's sample at which frame 0 starts
    candidates: FrameCandidates | None  # each frame's likeliest tokens, from frame `candidates_from` on (beam > 1)
    candidates_from: int


class LiveStream:
    """One live stream through a Pipeline (not thread-safe: call it from one thread at a time).

    Args:
        pipeline: a `Pipeline` over a model with a token CTC (a Soundwave model).
        step_seconds: new audio between two encodes (latency against cost: each encode is of the whole window).
        window_seconds: most audio encoded at once; at most the encoder's window less one step.
        context_seconds: audio before the frontier a restarted window keeps.
        settle_seconds: audio after the stream's last word before it may be final.
        max_vectors: most shrunk vectors kept for `ask` (None: the LLM's context length).
        beam: prefixes kept when a final stretch is read again (1..MAX_BEAM; 1: the greedy words, as agreed on).

    Raises:
        ConfigError: the seconds do not fit together (context + 2 steps <= window <= encoder window - step), or
            the beam is out of range.
    """

    def __init__(
        self,
        pipeline,
        step_seconds: float = STEP_SECONDS,
        window_seconds: float = WINDOW_SECONDS,
        context_seconds: float = CONTEXT_SECONDS,
        settle_seconds: float = SETTLE_SECONDS,
        max_vectors: int | None = None,
        beam: int = BEAM,
    ) -> None:
        encoder_window = pipeline.processor.window / SAMPLE_RATE
        if not (step_seconds > 0 and context_seconds >= 0 and settle_seconds >= 0):
            raise ConfigError("listen: step_seconds must be > 0, context_seconds and settle_seconds >= 0")
        if not context_seconds + 2 * step_seconds <= window_seconds <= encoder_window - step_seconds:
            raise ConfigError(
                f"listen: window_seconds must lie between context_seconds + 2 x step_seconds "
                f"({context_seconds + 2 * step_seconds:g}) and the encoder's window less a step "
                f"({encoder_window - step_seconds:g}), got {window_seconds:g}"
            )
        if max_vectors is not None and max_vectors < 1:
            raise ConfigError(f"listen: max_vectors must be >= 1, got {max_vectors}")
        if not (isinstance(beam, int) and 1 <= beam <= MAX_BEAM):
            raise ConfigError(f"listen: beam must be an integer within 1..{MAX_BEAM}, got {beam!r}")
        self.beam = beam
        self.pipe = pipeline
        self.max_vectors = max_vectors or pipeline.context_length
        self.settle = settle_seconds
        self._step = round(step_seconds * SAMPLE_RATE)
        self._window = round(window_seconds * SAMPLE_RATE)
        self._context = round(context_seconds * SAMPLE_RATE)
        self._max_lag = window_seconds - context_seconds - step_seconds  # seconds a word may stay unsettled
        self._texts = TokenTexts(pipeline.tokenizer)
        self._blank = pipeline.model.blank_id
        self._audio = np.zeros(0, np.float32)  # samples from `_start` to `_fed`
        self._start = 0  # first sample of the window (a multiple of FRAME_SAMPLES: frames stay on one grid)
        self._fed = 0  # samples fed so far
        self._encoded_to = 0  # end of the last window encoded for captions
        self._frontier = 0.0  # seconds: everything before is final
        self._last: _Window | None = None
        self._shown = ""  # the partial text the caller has now
        self._kept: deque[tuple[torch.Tensor, np.ndarray, np.ndarray, np.ndarray]] = deque()
        self._kept_vectors = 0
        self._dropped = False  # vectors were dropped past max_vectors
        self._finished = False

    # ---- what it holds ------------------------------------------------------------------------------------------
    @property
    def seconds(self) -> float:
        """Audio fed so far."""
        return self._fed / SAMPLE_RATE

    @property
    def buffered_seconds(self) -> float:
        """Raw audio held (at most window + step seconds)."""
        return self._audio.shape[0] / SAMPLE_RATE

    @property
    def kept_vectors(self) -> int:
        """Shrunk vectors kept of the settled audio (at most `max_vectors`)."""
        return self._kept_vectors

    @property
    def finished(self) -> bool:
        return self._finished

    # ---- captions -----------------------------------------------------------------------------------------------
    def feed(self, samples: np.ndarray) -> list[Event]:
        """Add audio (float32 mono 16 kHz, any length); returns the captions it settled or changed.

        Raises:
            AudioError: not a 1-D float array, or samples that are not finite or far out of [-1, 1].
            SoundwaveError: the stream is finished.
        """
        if self._finished:
            raise SoundwaveError("this stream is finished: start another with Pipeline.listen()")
        samples = checked_samples(samples)
        self._audio = np.concatenate([self._audio, samples])
        self._fed += samples.shape[0]
        events: list[Event] = []
        while self._fed - self._encoded_to >= self._step:  # on the grid, whatever the pieces were
            events += self._advance(self._encoded_to + self._step)
        return events

    def finish(self) -> list[Event]:
        """The end of the stream: everything heard becomes final. Later calls return nothing; `ask` still works."""
        if self._finished:
            return []
        self._finished = True
        if self._fed == 0:
            return []
        return self._advance(self._fed, final=True)

    def _advance(self, end: int, final: bool = False) -> list[Event]:
        """Encode the window up to sample `end` (unless it was) and settle what it and the last window agree on."""
        previous = self._last
        if end == self._encoded_to and previous is not None:
            window = previous  # finishing exactly on the grid: the last window heard it all
        else:
            if end - self._start > self._window:
                self._restart_window()
            window = self._encode(end)
        end_time = end / SAMPLE_RATE
        current = [w for w in window.words if w.first >= self._frontier]
        before = [w for w in previous.words if w.first >= self._frontier] if previous is not None else None
        if final:
            settled = current
        else:
            settled = agreed(current, before, end_time - self.settle)
            overdue = end_time - self._max_lag  # unsettled words that began before it are settled anyway
            settled += [w for w in current[len(settled) :] if w.first < overdue]  # a prefix: words are in order
        frontier = self._next_frontier(current, settled, before, end_time, final)
        self._keep(window, self._frontier, frontier)
        text = self._final_text(window, settled, self._frontier, frontier) if settled else ""
        self._frontier, self._last, self._encoded_to = frontier, window, end
        events = [Event("final", text, settled[0].start, settled[-1].end)] if settled else []
        unsettled = [w for w in current[len(settled) :] if w.first >= frontier]
        return events + self._partial(unsettled)

    def _next_frontier(
        self,
        current: list[HeardWord],
        settled: list[HeardWord],
        before: list[HeardWord] | None,
        end_time: float,
        final: bool,
    ) -> float:
        """Where final text ends now: between the last settled word and the next (never past `settle` from the
        end); through silence both windows heard; never more than the longest lag behind."""
        if final:
            return end_time
        frontier = self._frontier
        if settled:
            last = settled[-1].last
            following = current[len(settled)].first if len(settled) < len(current) else end_time
            frontier = max(last, min((last + following) / 2, end_time - self.settle))
        elif not current and before is not None and not before:
            frontier = max(frontier, end_time - self.settle)
        return max(frontier, end_time - self._max_lag)

    def _final_text(self, window: _Window, words: list[HeardWord], since: float, until: float) -> str:
        """The settled words' text: the beam search's likeliest reading of the frames from the old frontier to the
        new (a token the greedy path lost between two words is read too); the greedy words' text when beam is 1 or
        the search hears nothing there."""
        greedy = join(words)
        if window.candidates is None:
            return greedy
        first, last = (round(t * SAMPLE_RATE - window.start) // FRAME_SAMPLES for t in (since, until))
        frames = window.candidates.frames(first - window.candidates_from, last - window.candidates_from)
        best, _ = prefix_beam_search(frames, self._blank, self.beam)[0]
        return words_text(best, self._texts) or greedy

    def _restart_window(self) -> None:
        """Start the window `context` before the frontier, on the frame grid; drop the audio before it."""
        start = int(self._frontier * SAMPLE_RATE - self._context) // FRAME_SAMPLES * FRAME_SAMPLES
        start = max(start, self._start)
        self._audio = self._audio[start - self._start :]
        self._start = start

    def _encode(self, end: int) -> _Window:
        """Encode the window's audio up to sample `end`: words, kept vectors and tokens, in stream time."""
        wave = self._audio[: end - self._start]
        since = max(int(self._frontier * SAMPLE_RATE - self._start) // FRAME_SAMPLES, 0)  # frames a final may hold
        # Words are read from `cut`, a margin before the frontier, on (a word straddling the frontier stays whole);
        # the settled frames before it need no CTC logits (where the model allows it: `skip_ctc_before`).
        cut = max(since - round(SETTLED_CTC_SECONDS / FRAME_SECONDS), 0)
        encoding = self.pipe.encode(wave, ctc_from=cut)
        frames = min(int(encoding.ctc_lengths[0]), math.ceil(wave.shape[0] / FRAME_SAMPLES))  # past the audio: none
        times = (self._start + np.arange(frames) * FRAME_SAMPLES) / SAMPLE_RATE  # (T,) seconds each frame starts
        kept = np.flatnonzero(encoding.keep[0, :frames].cpu().numpy())  # frames of the vectors, in order
        vectors = encoding.embeds[0, : len(kept)].clone()  # (K, D); a copy, not a view of the whole window
        best = encoding.tokens[0, cut:frames].cpu().numpy()  # (T - cut,) CTC argmax
        tokens = emitted_tokens(best, self._blank)
        ids = np.array([token for token, _, _ in tokens], dtype=np.int64)
        id_times = np.array([times[cut + first] for _, first, _ in tokens], dtype=np.float64)
        words = greedy_words(best, times[cut:], self._blank, self._texts)
        candidates = None
        if self.beam > 1:
            logits = encoding.ctc_logits[0, since:frames]  # (T - since, V)
            candidates = FrameCandidates.of(logits, self._blank, self.beam)
        return _Window(words, vectors, times[kept], ids, id_times, self._start, candidates, since)

    def _keep(self, window: _Window, since: float, until: float) -> None:
        """Keep the window's vectors and tokens of [since, until); drop the oldest past `max_vectors`."""
        if until <= since:
            return
        mine = (window.vector_times >= since) & (window.vector_times < until)
        heard = (window.id_times >= since) & (window.id_times < until)
        index = torch.from_numpy(np.flatnonzero(mine)).to(window.vectors.device)
        self._kept.append((window.vectors[index], window.vector_times[mine], window.ids[heard], window.id_times[heard]))
        self._kept_vectors += int(mine.sum())
        while self._kept_vectors > self.max_vectors:
            vectors, times, ids, id_times = self._kept.popleft()
            excess = self._kept_vectors - self.max_vectors
            if excess < vectors.shape[0]:  # keep this chunk's newest vectors
                cut = times[excess]
                self._kept.appendleft(
                    (vectors[excess:], times[excess:], ids[id_times >= cut], id_times[id_times >= cut])
                )
                self._kept_vectors -= excess
            else:
                self._kept_vectors -= vectors.shape[0]
            self._dropped = True

    def _partial(self, words: list[HeardWord]) -> list[Event]:
        """The partial, when its text changed."""
        text = join(words)
        if text == self._shown:
            return []
        self._shown = text
        start, end = (words[0].start, words[-1].end) if words else (self._frontier, self._frontier)
        return [Event("partial", text, start, end)]

    # ---- questions ----------------------------------------------------------------------------------------------
    def ask(self, prompt: str, should_stop: StopFlag | None = None, **options) -> Answer:
        """Answer `prompt` about everything heard so far, with the Pipeline's decoding (`generate` options;
        `should_stop` ends generation at the next step once true, as in `generate_batch`).

        Raises:
            SoundwaveError: the answer cannot be generated (options, prompt too long for the context).
        """
        audio, heard_from = self.heard(prompt, **options)
        result = self.pipe.generate_batch([Item(audio, prompt)], should_stop=should_stop, **options)[0]
        if result.error is not None:
            raise SoundwaveError(result.error)
        return Answer(**{f.name: getattr(result, f.name) for f in dataclasses.fields(result)}, heard_from=heard_from)

    def ask_stream(self, prompt: str, **options) -> Iterator[str]:
        """`ask`, its answer yielded as it is produced (`Pipeline.stream`); `heard(prompt)` tells where it began."""
        audio, _ = self.heard(prompt, **options)
        yield from self.pipe.stream(audio, prompt, **options)

    def heard(self, prompt: str, **options) -> tuple[EncodedAudio, float]:
        """The vectors `ask(prompt, **options)` splices in, and the second of the stream they start from: all that
        was heard (0.0) or, when that does not fit the LLM's context with the prompt and the answer, the most
        recent part that does. Audio fed since the last step is encoded now (captions are not changed)."""
        chunks = list(self._kept)
        tail = self._last
        if not self._finished and self._fed > self._encoded_to:
            tail = self._encode(self._fed)
        if tail is not None and not self._finished:  # what is not settled yet, as the latest window heard it
            mine, heard = tail.vector_times >= self._frontier, tail.id_times >= self._frontier
            index = torch.from_numpy(np.flatnonzero(mine)).to(tail.vectors.device)
            chunks.append((tail.vectors[index], tail.vector_times[mine], tail.ids[heard], tail.id_times[heard]))
        config = self.pipe.generation.with_overrides(**options)
        prompt_tokens = len(self.pipe.processor.prompt_ids([Turn("user", prompt, audio=True)])) - 1
        budget = max(self.pipe.context_length - prompt_tokens - config.max_new_tokens, 0)
        dim = self.pipe.model.get_input_embeddings().weight.shape[-1]
        vectors = torch.cat([c[0] for c in chunks]) if chunks else torch.zeros(0, dim)  # (K, D)
        times = np.concatenate([c[1] for c in chunks]) if chunks else np.zeros(0)
        ids = np.concatenate([c[2] for c in chunks]) if chunks else np.zeros(0, np.int64)
        id_times = np.concatenate([c[3] for c in chunks]) if chunks else np.zeros(0)
        heard_from = 0.0
        if vectors.shape[0] > budget or self._dropped:  # the most recent vectors that fit
            first = max(vectors.shape[0] - budget, 0)
            vectors, times = vectors[first:], times[first:]
            heard_from = float(times[0]) if times.shape[0] else self.seconds
            ids = ids[id_times >= heard_from]
        draft = tuple(int(i) for i in ids)
        return EncodedAudio(vectors, max(self.seconds - heard_from, 0.0), draft), heard_from


def agreed(current: list[HeardWord], before: list[HeardWord] | None, settled_by: float) -> list[HeardWord]:
    """The words two successive windows agree on from the frontier on, each complete: another word follows it in
    the current window, or it ended by `settled_by`."""
    if before is None:
        return []
    words = []
    for index, (mine, theirs) in enumerate(zip(current, before, strict=False)):
        complete = index + 1 < len(current) or mine.last <= settled_by
        if mine.ids != theirs.ids or not complete:
            break
        words.append(mine)
    return words


def join(words: list[HeardWord]) -> str:
    """The words' text (each carries the space before it), with no space at either end."""
    return "".join(word.text for word in words).strip()


def checked_samples(samples) -> np.ndarray:
    """(n,) float32 16 kHz samples, or AudioError saying what is wrong with them."""
    if not isinstance(samples, np.ndarray) or samples.ndim != 1:
        shape = getattr(samples, "shape", None)
        raise AudioError(f"feed: expected a 1-D numpy array of 16 kHz mono samples, got {type(samples).__name__} "
                         f"{shape if shape is not None else ''}".rstrip())  # fmt: skip
    if not np.issubdtype(samples.dtype, np.floating):
        raise AudioError(
            f"feed: expected float samples within [-1, 1], got {samples.dtype} (16-bit PCM: divide by 32768)"
        )
    samples = samples.astype(np.float32, copy=False)
    if samples.size:
        check_samples(samples, "feed")
    return samples
