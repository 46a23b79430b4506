"""The decoding add-ons behind `Rescorer`: joint CTC decoding (token CTC, spelling CTC, lexicon) and word repair."""

from __future__ import annotations

import dataclasses

import torch

from soundwave.decoding.rescorer import DecodeContext, Rescorer, row_audio_frames
from soundwave.options import GenerationConfig

ANSWER_SLACK = 2  # tokens past the CTC frames a joint-decoded answer may take (its end-of-turn among them)


class JointCTC(Rescorer):
    """Joint CTC / LLM decoding (`ctc_prefix.py`), with the spelling CTC (`spelling_prefix.py`) when weighted.

    Its cost bound: a CTC path emits at most one token per frame, so an answer longer than its audio's CTC frames
    cannot be what CTC heard; `max_new_tokens` is capped there (a hypothesis CTC has ruled out no longer runs to
    the global limit).
    """

    name = "joint_ctc"

    def applies(self, config: GenerationConfig) -> bool:
        return config.ctc_weight > 0 or config.spelling_weight > 0

    def max_new_tokens(self, context: DecodeContext, config: GenerationConfig) -> int:
        _, _, active = context.token_ctc()
        if not bool(active.all()):  # a row CTC does not score decodes as the LLM alone would
            return config.max_new_tokens
        return min(config.max_new_tokens, int(row_audio_frames(context).max()) + ANSWER_SLACK)

    def logits_processors(self, context: DecodeContext, config: GenerationConfig) -> list:
        from soundwave.decoding.ctc_prefix import CTCPrefixScorer

        log_probs, lengths, active = context.token_ctc()
        silent = active.cpu() & heard_nothing(context, config)
        return [
            CTCPrefixScorer(
                log_probs,
                lengths,
                context.model.placeholder_id,
                eos_token_ids=[context.eos_token_id],
                weight=config.ctc_weight,
                candidates=config.ctc_candidates,
                num_beams=config.num_beams,
                active=active,
                blank_penalty=config.ctc_blank_penalty,
                length_bonus=config.ctc_length_bonus,
                spelling=self._spelling(context, config) if config.spelling_weight > 0 else None,
                spelling_weight=config.spelling_weight,
                silent=silent,
            )
        ]

    @staticmethod
    def _spelling(context: DecodeContext, config: GenerationConfig):
        from soundwave.decoding.spelling_prefix import SpellingScorer, TokenSpeller

        log_probs, lengths, _ = context.spelling_ctc()
        speller = context.cached("speller", lambda: TokenSpeller(context.tokenizer, context.model.config.vocab_size))
        lexicon = lexicon_of(context) if config.lexicon_penalty > 0 else None
        return SpellingScorer(log_probs, lengths, speller, lexicon, config.lexicon_penalty)


class WordRepair(Rescorer):
    """After decoding, non-words of each transcript are replaced by nearby lexicon words (`word_repair.py`).

    Its cost bound: per clip, at most `MAX_REPAIRED_WORDS` words are tried, each against at most `repair_pool`
    nearby words (shortlisted to 8) and merges of up to 3 words, the LMs reading each candidate only up to
    `repair_window` words past it (the words before it are read once per clip); so repair costs a bounded number
    of LM passes, each over a bounded number of tokens.
    """

    name = "word_repair"
    rewrites = True

    def applies(self, config: GenerationConfig) -> bool:
        return config.word_repair > 0 or config.word_repair_speech > 0

    def nbest(self, config: GenerationConfig) -> int:
        return min(config.repair_nbest, config.num_beams)

    def rewrite(self, context, config, texts, nbest):
        from soundwave.decoding.word_repair import SpeechLM, TextLM, cached, repair_best, sentence_scorer

        logits, lengths, active = context.spelling_ctc()
        lexicon = lexicon_of(context)
        text_lm = cached(TextLM(context.model.llm, context.tokenizer))
        prompts = prompt_embeds(context) if config.word_repair_speech > 0 else None
        repaired, chosen = [], []
        for row in range(len(texts) // nbest):
            first = row * nbest
            if not bool(active[row]):
                repaired.append(texts[first])
                chosen.append(first)
                continue
            row_log_probs = logits[row, : int(lengths[row])].float().log_softmax(-1)  # (T, C)
            speech_lm = None
            if prompts is not None:
                embeds, keys = prompts[row]
                speech_lm = cached(SpeechLM(context.model.llm, context.tokenizer, embeds, context.eos_token_id, keys))
            score = sentence_scorer(row_log_probs, text_lm, config.word_repair, speech_lm, config.word_repair_speech)
            best, text = repair_best(
                texts[first : first + nbest], score, lexicon, pool=config.repair_pool, window=config.repair_window
            )
            repaired.append(text)
            chosen.append(first + best)
        return repaired, chosen


def heard_nothing(context: DecodeContext, config: GenerationConfig) -> torch.Tensor:
    """(B,) rows whose audio every weighted CTC head hears as silence (best path all blank)."""
    from soundwave.decoding.ctc_prefix import heard_nothing as all_blank

    logits, lengths, _ = context.token_ctc()
    silent = all_blank(logits, lengths, context.model.blank_id) if config.ctc_weight > 0 else None
    if config.spelling_weight > 0:
        from soundwave.model.spelling import BLANK

        logits, lengths, _ = context.spelling_ctc()
        spelled = all_blank(logits, lengths, BLANK)
        silent = spelled if silent is None else silent & spelled
    return silent


def lexicon_of(context: DecodeContext):
    """The lexicon (Debian's wamerican), read once per Pipeline."""
    from soundwave.decoding.lexicon import Lexicon

    return context.cached("lexicon", Lexicon.from_file)


def prompt_embeds(context: DecodeContext) -> list[tuple]:
    """Each row's prompt as the LLM reads it, spliced without padding: ((S_row, D) embeds, (S_row,) keys)."""
    batch, audio = context.batch, context.audio
    counts = batch.get("audios_per_row")
    counts = counts.tolist() if counts is not None else [1] * context.rows
    prompts, first = [], 0
    for row, count in enumerate(counts):
        ids = batch["input_ids"][row][batch["attention_mask"][row].bool()][None]  # (S,) unpadded -> (1, S)
        entries = slice(first, first + count)
        own = dataclasses.replace(audio, embeds=audio.embeds[entries], lengths=audio.lengths[entries])
        spliced = context.model.splice(ids, None, own, audios_per_row=torch.tensor([count]))
        prompts.append((spliced.embeds[0], spliced.attention_mask[0]))
        first += count
    return prompts
