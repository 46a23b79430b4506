"""`Pipeline`: audio + prompt -> text. The one inference object behind the Python API, CLI, server and eval.

pipe = Pipeline.from_pretrained("path/or/name")
pipe.generate("clip.wav", "What does the person say?").text
pipe.generate_batch([{"audio": "a.wav", "prompt": "..."}, ...])   # truly batched, results in input order
pipe.transcribe("clip.wav").text                                    # the model's own transcription decoding
pipe.transcribe("clip.wav", timestamps="word").words                # + word and segment times (CTC alignment)
pipe.align("clip.wav", "any text").words                            # place a given text's words in time
for piece in pipe.stream("clip.wav", "Summarize."): print(piece, end="")
stream = pipe.listen()                                             # live: captions while audio arrives, then ask
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import torch

from soundwave.alignment import Alignment, CtcAligner, Segment, Word, check_token_ctc
from soundwave.audio import SAMPLE_RATE, AudioInput, load_audio
from soundwave.decoding import DecodeContext, active_rescorers
from soundwave.decoding.draft import ctc_drafts
from soundwave.errors import ConfigError, SoundwaveError
from soundwave.inference.encoded import EncodedAudio, encoding_of, seconds_of
from soundwave.inference.generation import model_decoding
from soundwave.inference.processor import SpeechProcessor
from soundwave.inference.stopping import StopFlag, stop_when
from soundwave.model.speculative import can_speculate
from soundwave.options import GenerationConfig
from soundwave.prompts import TRANSCRIBE_PROMPT, Turn

TIMESTAMPS = ("word", "segment")  # `transcribe(timestamps=...)`: words and segments, or segments only


@dataclass
class Result:
    """One answer, with what it cost."""

    text: str
    error: str | None = None  # set when this item failed; the others in its batch are unaffected
    input_tokens: int = 0  # LLM input length: prompt tokens - 1 + audio vectors
    audio_tokens: int = 0  # LLM vectors that carry the audio
    output_tokens: int = 0
    llm_forward_passes: int = 0  # LLM forward calls that produced the answer (prefill included; per batch)
    audio_seconds: float = 0.0
    seconds: float = 0.0  # wall time of the batch this item was in
    # with `timestamps=` (transcribe): the transcript's words and segments placed in time by the CTC alignment
    words: list[Word] | None = None  # timestamps="word"
    segments: list[Segment] | None = None  # timestamps="word" or "segment"
    align_seconds: float = 0.0  # wall time of this item's alignment


@dataclass
class Item:
    """One request: audio (path, bytes or array) + prompt, with optional earlier turns.

    `history` turns with `audio=True` take their recordings from `history_audio`, in order (16 kHz arrays).
    `audio=None` asks a text-only question (the conversation may still hold earlier recordings). `EncodedAudio`
    (a live stream's vectors) is spliced in as it is, in an item without `history_audio`.
    """

    audio: AudioInput | EncodedAudio | None
    prompt: str
    history: Sequence[Turn] = field(default_factory=tuple)
    sampling_rate: int | None = None  # rate of `audio` when it is an array
    history_audio: Sequence[np.ndarray] = field(default_factory=tuple)

    @classmethod
    def coerce(cls, item) -> Item:
        if isinstance(item, Item):
            return item
        if isinstance(item, dict):
            return cls(**item)
        audio, prompt = item
        return cls(audio, prompt)


def audio_samples(item: Item, wave) -> int:
    """Samples of a request's recordings, its own and its history's (what its row of a batch is padded to)."""
    own = wave.shape[0] if isinstance(wave, np.ndarray) else 0
    return own + sum(len(audio) for audio in item.history_audio)


class Pipeline:
    """A loaded speech LLM with its processor and generation defaults."""

    def __init__(
        self,
        model,
        processor: SpeechProcessor,
        generation: GenerationConfig | None = None,
        transcription: GenerationConfig | None = None,
    ) -> None:
        self.model = model.eval()
        self.processor = processor
        self.tokenizer = processor.tokenizer
        self.generation = generation or GenerationConfig()  # any prompt's defaults
        self.transcription = transcription or self.generation.with_overrides(do_sample=False)  # transcripts'
        self._lock = threading.Lock()  # one generate at a time per model
        self._decoding_cache: dict = {}  # what decoding add-ons read once (lexicon, token speller)

    # ---- construction -------------------------------------------------------------------------------------------
    @classmethod
    def from_pretrained(
        cls,
        path_or_name: str,
        device: str = "cpu",
        dtype: str | torch.dtype | None = None,
        quantize: str | None = None,
        compile: bool = False,  # noqa: A002  (torch's word)
        **model_options,
    ) -> Pipeline:
        """Load any model this package knows: a released-format checkpoint, our compact format, or a known name.

        Args:
            path_or_name: checkpoint directory, hub id, or a known model name.
            device: "cpu", "cuda", "cuda:1", ...
            dtype: "float32", "bfloat16", "float16" (default float32 on CPU, float16 on CUDA).
            quantize: None, "int8" (CPU or CUDA) or "nf4" (CUDA with bitsandbytes).
            compile: decode with a static KV cache and a compiled decode step (CUDA graphs on CUDA): each new batch
                size and length compiles first (seconds to minutes), then steps cost less; speculative drafts are off.
            model_options: config overrides such as `mode="paper"`, `mask_eot_keys=False`.

        A compact model's LoRA is folded into the LLM's weights (one Linear per layer instead of three): a Pipeline
        decodes; to train further, load it with `soundwave.model.compact.load_compact` (or `training.init_from`).
        """
        from soundwave.inference.loader import load_for_inference, resolve_model_dir
        from soundwave.inference.quantize import merge_adapters

        directory = resolve_model_dir(str(path_or_name))
        model, processor = load_for_inference(directory, device=device, dtype=dtype, **model_options)
        merge_adapters(model)  # LoRA folded into W: the same function, ~1.16x faster decoding (docs/performance.md)
        if quantize:
            from soundwave.inference.quantize import quantize_model

            model = quantize_model(model, quantize)
        if compile:
            model.compile_decoding()
        decoding = model_decoding(directory)
        return cls(model, processor, decoding.generation, decoding.transcription)

    @classmethod
    def from_model(cls, model, tokenizer, feature_extractor, generation: GenerationConfig | None = None) -> Pipeline:
        """Wrap a model already in memory (just built, trained, or random at full size): nothing is read or written.

            model, tokenizer, extractor = build_model(encoder="whisper-tiny.en", llm="smollm2-135m-instruct")
            pipe = Pipeline.from_model(model, tokenizer, extractor)

        Args:
            model: a Soundwave or SpeechLLM model, already on its device and in its dtype.
            tokenizer: the LLM's tokenizer, holding the model's audio placeholder token.
            feature_extractor: the encoder's feature extractor (Whisper's for a Soundwave model).
            generation: decoding defaults (None: the release's, as for a folder without `generation.yaml`).
        """
        from soundwave.inference.loader import processor_for

        return cls(model, processor_for(model, tokenizer, feature_extractor), generation)

    # ---- audio --------------------------------------------------------------------------------------------------
    def _load(self, item: Item) -> np.ndarray | EncodedAudio | None:
        if item.audio is None or isinstance(item.audio, EncodedAudio):
            if item.audio is not None and item.history_audio:
                raise SoundwaveError("encoded audio cannot share a conversation with recordings (history_audio)")
            return item.audio
        return load_audio(item.audio, sampling_rate=item.sampling_rate or SAMPLE_RATE)

    def encode(self, waveform: np.ndarray, ctc_from: int = 0):
        """The model's encoding of 16 kHz audio (`encode_audio`: per-window CTC, shrunk vectors joined), computed
        under the model's lock, so it can run beside generation from other threads (a live stream's windows).
        `ctc_from`: the CTC frames before it, in each encoder window, need no logits (where the model allows,
        `skip_ctc_before`); a live stream's windows are one encoder window each."""
        batch = self.processor.audio_batch([waveform])
        device = self.model.device
        with self._lock, torch.inference_mode():
            return self.model.encode_audio(
                batch.audios.to(device), batch.audio_lengths.to(device), batch.windows_per_item.to(device), ctc_from
            )

    def listen(self, **options):
        """A live stream: `feed` audio as it arrives and get captions from the CTC head, `ask` about what was heard.

        Options are `LiveStream`'s (`soundwave.inference.live`: step, window, context, settle seconds, the most
        vectors kept). Raises SoundwaveError for a model without a token CTC (the SpeechLLM design).
        """
        from soundwave.inference.live import LiveStream

        check_token_ctc(self.model)
        return LiveStream(self, **options)

    # ---- generation ---------------------------------------------------------------------------------------------
    def generate(self, audio: AudioInput, prompt: str, history: Sequence[Turn] = (), **generation) -> Result:
        """Answer one prompt about one clip. Errors are raised (use `generate_batch` to get them as results)."""
        result = self.generate_batch([Item(audio, prompt, history)], **generation)[0]
        if result.error is not None:
            raise SoundwaveError(result.error)
        return result

    def generate_batch(
        self, items: Sequence, batch_size: int | None = None, should_stop: StopFlag | None = None, **generation
    ) -> list[Result]:
        """Answer many items, batched (left padding, KV cache); results in input order. Items are batched longest
        recordings first (batches of similar lengths), so `batch_size` rows decode together where they pay most.

        A bad item (unreadable audio, too long for the context) fails only itself: its Result carries `error`.
        `should_stop` (the server's "request given up") ends generation at the next decoding step once true.
        """
        return self._generate_batch(items, batch_size, self.generation.with_overrides(**generation), should_stop)

    def transcribe(
        self, audio: AudioInput, prompt: str = TRANSCRIBE_PROMPT, timestamps: str | None = None, **options
    ) -> Result:
        """Transcribe one clip with the model's transcription decoding (its `generation.yaml` `transcribe:`).

        `timestamps="word"` also places the transcript's words and segments in time (`Result.words`,
        `Result.segments`), "segment" only its segments (see `transcribe_batch`).
        """
        result = self.transcribe_batch([{"audio": audio, "prompt": prompt}], timestamps=timestamps, **options)[0]
        if result.error is not None:
            raise SoundwaveError(result.error)
        return result

    def transcribe_batch(
        self,
        items: Sequence,
        batch_size: int | None = None,
        should_stop: StopFlag | None = None,
        timestamps: str | None = None,
        **options,
    ) -> list[Result]:
        """Transcribe many clips (paths, arrays, or items with their own prompt); results in input order.

        The one transcription path: `soundwave transcribe`, `POST /v1/audio/transcriptions` and
        `soundwave eval --task asr` all come here, so the same clip and options give the same text.
        `timestamps` ("word": words and segments, "segment": segments, None: neither) aligns each transcript
        to its audio afterwards with the model's CTC (`align`); the text is the same either way.

        Raises:
            ConfigError: `timestamps` is not one of None, "word", "segment".
            SoundwaveError: timestamps asked of a model without a token CTC (the SpeechLLM design).
        """
        items = [item if isinstance(item, (Item, dict, tuple)) else {"audio": item} for item in items]
        items = [{"prompt": TRANSCRIBE_PROMPT} | item if isinstance(item, dict) else item for item in items]
        if timestamps is not None:
            self._check_timestamps(timestamps)
            items = [self._preload(item) for item in items]  # decoded once, for the transcript and the alignment
        results = self._generate_batch(items, batch_size, self.transcription.with_overrides(**options), should_stop)
        if timestamps is not None:
            self._add_timestamps(items, results, timestamps)
        return results

    # ---- timestamps (CTC forced alignment: soundwave.alignment) ---------------------------------------------------
    def align(self, audio: AudioInput, text: str, sampling_rate: int | None = None) -> Alignment:
        """Place the words of `text` (a transcript, a reference, any text) in `audio` with the model's CTC.

        Returns:
            The words (start, end, confidence; `interpolated` where the CTC could not place one) and segments,
            in seconds from the start of the recording, however long (windows are joined in time).

        Raises:
            SoundwaveError: unreadable audio, or a model without a token CTC (the SpeechLLM design).
        """
        wave = self._load(Item(audio, "", sampling_rate=sampling_rate))
        with self._lock:
            return self.aligner.align(wave, text)

    @property
    def aligner(self) -> CtcAligner:
        """The model's `CtcAligner` (raises SoundwaveError for a model without a token CTC)."""
        if "aligner" not in self._decoding_cache:
            self._decoding_cache["aligner"] = CtcAligner(self.model, self.processor)
        return self._decoding_cache["aligner"]

    def _check_timestamps(self, timestamps: str) -> None:
        if timestamps not in TIMESTAMPS:
            raise ConfigError(f"timestamps: expected one of {', '.join(TIMESTAMPS)} (or None), got {timestamps!r}")
        check_token_ctc(self.model)

    def _preload(self, item) -> Item:
        """The item with its audio decoded to 16 kHz (left as it was when unreadable: decoding reports it)."""
        item = Item.coerce(item)
        try:
            wave = self._load(item)
        except SoundwaveError:
            return item
        return replace(item, audio=wave, sampling_rate=SAMPLE_RATE) if wave is not None else item

    def _add_timestamps(self, items: list[Item], results: list[Result], timestamps: str) -> None:
        """Align each transcribed item's text to its audio (in place); a failed alignment fails its item."""
        for item, result in zip(items, results, strict=True):
            if result.error is not None or not isinstance(item.audio, np.ndarray):
                continue
            try:
                with self._lock:
                    alignment = self.aligner.align(item.audio, result.text)
            except SoundwaveError as err:
                result.error = f"alignment failed: {err}"
                continue
            result.words = list(alignment.words) if timestamps == "word" else None
            result.segments = list(alignment.segments)
            result.align_seconds = alignment.seconds

    def _generate_batch(
        self, items: Sequence, batch_size: int | None, config: GenerationConfig, should_stop: StopFlag | None = None
    ) -> list[Result]:
        items = [Item.coerce(item) for item in items]
        results: list[Result | None] = [None] * len(items)
        loaded = []
        for index, item in enumerate(items):
            try:
                loaded.append((index, item, self._load(item)))
            except SoundwaveError as err:
                results[index] = Result(text="", error=str(err))
        step = batch_size or len(loaded) or 1
        if step < len(loaded):  # batches of similar lengths: less padding, fewer rows idle while others decode
            loaded.sort(key=lambda entry: -audio_samples(entry[1], entry[2]))  # stable: ties keep their order
        for start in range(0, len(loaded), step):
            chunk = loaded[start : start + step]
            for index, result in zip([c[0] for c in chunk], self._run(chunk, config, should_stop), strict=True):
                results[index] = result
        return results  # type: ignore[return-value]

    def _inputs(self, chunk, config: GenerationConfig) -> dict:
        waves, conversations, counts = [], [], []
        for _, item, wave in chunk:
            own = [wave] if wave is not None else []
            waves += [*item.history_audio, *own]
            counts.append(len(item.history_audio) + len(own))
            conversations.append([*item.history, Turn("user", item.prompt, audio=wave is not None)])
        encoded = [wave for wave in waves if isinstance(wave, EncodedAudio)]
        if encoded and len(encoded) != len(waves):
            raise SoundwaveError("encoded audio cannot be batched with recordings: give them separate calls")
        waves = [] if encoded else waves  # encoded: the prompts only, their vectors come from the items
        batch = self.processor(waves, conversations, audios_per_row=None if counts == [1] * len(chunk) else counts)
        return {k: (v.to(self.model.device) if v is not None else None) for k, v in batch.items()}

    def _run(self, chunk, config: GenerationConfig, should_stop: StopFlag | None = None) -> list[Result]:
        started = time.perf_counter()
        try:
            with self._lock, torch.inference_mode():
                if config.seed is not None:
                    torch.manual_seed(config.seed)
                batch = self._inputs(chunk, config)
                audio = self._check_context(batch, config, chunk)
                audio_tokens = [int(n) for n in audio.lengths.tolist()]
                context, rescorers = self._decode_context(batch, audio), active_rescorers(config)
                kwargs = self._generate_kwargs(context, rescorers, config)
                nbest = max([1, *(r.nbest(config) for r in rescorers)])
                if nbest > 1:  # an add-on rewrites each row's `nbest` best beams
                    kwargs["num_return_sequences"] = nbest
                if config.draft == "ctc" and self.has_ctc and can_speculate(kwargs, self.model.llm.generation_config):
                    kwargs["draft_ids"] = self._drafts(chunk, context)
                if should_stop is not None:
                    kwargs["stopping_criteria"] = stop_when(should_stop)
                output = self.model.generate(**batch, audio_encoding=audio, return_dict_in_generate=True, **kwargs)
                new_ids = output.sequences[:, batch["input_ids"].shape[1] :]  # (B * nbest, S + N) -> (B * nbest, N)
                passes = getattr(output, "llm_forward_passes", None) or new_ids.shape[1]  # plain: one per token
                texts = [self.tokenizer.decode(self._strip(ids), skip_special_tokens=True).strip() for ids in new_ids]
                chosen = list(range(len(texts)))  # where each text's ids are in new_ids
                for rescorer in (r for r in rescorers if r.rewrites):  # each picks one of a row's nbest texts
                    texts, picked = rescorer.rewrite(context, config, texts, nbest)
                    chosen, nbest = [chosen[i] for i in picked], 1
                texts, chosen = texts[::nbest], chosen[::nbest]  # nobody picked: each row's best beam
                new_ids = new_ids[chosen]  # (B * nbest, N) -> (B, N)
        except ContextTooLong as err:
            if len(chunk) == 1:
                return [Result(text="", error=str(err))]
            # retry one by one so only the offending item fails
            return [self._run([c], config, should_stop)[0] for c in chunk]
        except torch.OutOfMemoryError as err:
            raise SoundwaveError(
                f"out of memory for a batch of {len(chunk)}: use a smaller batch size or quantize='int8'/'nf4'"
            ) from err
        seconds = time.perf_counter() - started
        results = []
        prompt_lengths = batch["attention_mask"].sum(dim=1).tolist()
        row_placeholders, row_audio_tokens = self._per_row(batch, audio_tokens)
        for row, (_, _, wave) in enumerate(chunk):
            ids = self._strip(new_ids[row])
            n_audio = row_audio_tokens[row]
            results.append(
                Result(
                    text=texts[row],
                    input_tokens=int(prompt_lengths[row]) - row_placeholders[row] + n_audio,
                    audio_tokens=n_audio,
                    output_tokens=len(ids),
                    llm_forward_passes=int(passes),
                    audio_seconds=seconds_of(wave),
                    seconds=seconds,
                )
            )
        return results

    @staticmethod
    def _drafts(chunk, context: DecodeContext) -> list[list[int]]:
        """Each row's CTC transcript (the speculative draft): kept with encoded audio, else from its CTC logits."""
        if any(isinstance(wave, EncodedAudio) for _, _, wave in chunk):
            return [list(wave.ctc_ids) if isinstance(wave, EncodedAudio) else [] for _, _, wave in chunk]
        return ctc_drafts(context)

    @property
    def has_ctc(self) -> bool:
        """The model has a CTC alignment adapter (a Soundwave model), so it can decode jointly with it."""
        return hasattr(self.model, "greedy_ctc_ids")

    def _decode_context(self, batch: dict, audio) -> DecodeContext:
        return DecodeContext(self.model, self.tokenizer, batch, audio, self.eos_token_id, self._decoding_cache)

    def _generate_kwargs(self, context: DecodeContext, rescorers: list, config: GenerationConfig) -> dict:
        """transformers' `generate` arguments for `config`, with the add-ons' logits processors and length bounds."""
        kwargs = config.to_generate_kwargs(self.eos_token_id, self.tokenizer)
        processors = [p for rescorer in rescorers for p in rescorer.logits_processors(context, config)]
        if processors:
            from transformers import LogitsProcessorList

            kwargs["logits_processor"] = LogitsProcessorList(processors)
        kwargs["max_new_tokens"] = min([config.max_new_tokens, *(r.max_new_tokens(context, config) for r in rescorers)])
        return kwargs

    @staticmethod
    def _per_row(batch: dict, audio_tokens: list[int]) -> tuple[list[int], list[int]]:
        """Placeholders and audio vectors of each row (rows may hold 0, 1 or several recordings)."""
        rows = batch["input_ids"].shape[0]
        counts = batch.get("audios_per_row")
        counts = counts.tolist() if counts is not None else [1] * rows
        vectors, start = [], 0
        for count in counts:
            vectors.append(sum(audio_tokens[start : start + count]))
            start += count
        return counts, vectors

    def _strip(self, ids: torch.Tensor) -> list[int]:
        """Generated ids up to (not including) the first end-of-turn or pad token."""
        ids = ids.tolist()
        ends = {self.eos_token_id, self.tokenizer.pad_token_id} - {None}
        for pos, token in enumerate(ids):
            if token in ends:
                return ids[:pos]
        return ids

    @property
    def eos_token_id(self) -> int:
        eot = self.tokenizer.convert_tokens_to_ids("<|eot_id|>")
        if isinstance(eot, int) and eot != self.tokenizer.unk_token_id:
            return eot
        return self.tokenizer.eos_token_id

    @property
    def context_length(self) -> int:
        text_config = self.model.config.get_text_config()
        return int(getattr(text_config, "max_position_embeddings", 0) or 1_000_000)

    def _check_context(self, batch: dict, config: GenerationConfig, chunk):
        """Encode the audio; raises ContextTooLong when prompt + audio + answer cannot fit. Returns the encoding."""
        encoded = [wave for _, _, wave in chunk if isinstance(wave, EncodedAudio)]
        if encoded:
            if active_rescorers(config):
                raise ConfigError(
                    "encoded audio (a live stream's) keeps no CTC posteriors or encoder frames: decode it with "
                    "ctc_weight=0, spelling_weight=0, word_repair=0 and word_repair_speech=0"
                )
            audio = encoding_of(self.model, encoded)
        else:
            audio = self.model.encode_audio(batch["audios"], batch.get("audio_lengths"), batch.get("windows_per_item"))
        _, counts = self._per_row(batch, audio.lengths.tolist())
        prompt_lengths = batch["attention_mask"].sum(dim=1).tolist()
        for row, (_, _, wave) in enumerate(chunk):
            needed = int(prompt_lengths[row]) + counts[row] + config.max_new_tokens
            if needed > self.context_length:
                seconds = seconds_of(wave)
                rate = counts[row] / max(seconds, 1e-6)
                fits = max(0.0, (self.context_length - prompt_lengths[row] - config.max_new_tokens) / max(rate, 1e-6))
                raise ContextTooLong(
                    f"{seconds:.0f} s of audio gives {counts[row]} vectors; with the prompt "
                    f"({prompt_lengths[row]} tokens) and max_new_tokens={config.max_new_tokens} that is {needed} > "
                    f"the LLM's context of {self.context_length}; at this clip's rate about {fits:.0f} s fits"
                )
        return audio

    def stream(
        self,
        audio: AudioInput | None,
        prompt: str,
        history: Sequence[Turn] = (),
        history_audio: Sequence[np.ndarray] = (),
        should_stop: StopFlag | None = None,
        **generation,
    ) -> Iterator[str]:
        """Yield the answer's text as it is produced (`should_stop`: as in `generate_batch`)."""
        from transformers import TextIteratorStreamer

        config = self.generation.with_overrides(**generation)
        item = Item(audio, prompt, history, history_audio=history_audio)
        chunk = [(0, item, self._load(item))]
        streamer = TextIteratorStreamer(self.tokenizer, skip_prompt=False, skip_special_tokens=True)  # new ids only
        errors: list[BaseException] = []

        def work() -> None:
            try:
                with self._lock, torch.inference_mode():
                    if config.seed is not None:
                        torch.manual_seed(config.seed)
                    batch = self._inputs(chunk, config)
                    audio = self._check_context(batch, config, chunk)
                    context, rescorers = self._decode_context(batch, audio), active_rescorers(config)
                    kwargs = self._generate_kwargs(context, rescorers, config)  # streamed: no rewriting after
                    if should_stop is not None:
                        kwargs["stopping_criteria"] = stop_when(should_stop)
                    self.model.generate(**batch, audio_encoding=audio, **kwargs, streamer=streamer)
            except BaseException as err:  # surfaced to the caller below
                errors.append(err)
                streamer.end()

        thread = threading.Thread(target=work, daemon=True)
        thread.start()
        yield from (piece for piece in streamer if piece)
        thread.join()
        if errors:
            raise SoundwaveError(str(errors[0])) from errors[0]


class ContextTooLong(SoundwaveError):
    """Prompt + audio + answer do not fit in the LLM's context."""
