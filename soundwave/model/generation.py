"""Generation shared by both designs: encode the audio, splice it in with left padding, run the LLM's generate.

Positions are passed explicitly (plain 0.. after the left padding, as the release computes them), and
transformers' `generate` extends them by one per new token. As in the release and every transformers causal LM,
`generate(input_ids=...)` returns the prompt followed by the new tokens: the release's `output_ids[:, L:]` with
`L = input_ids.shape[1]` is the answer.
"""

from __future__ import annotations

import torch
from torch import Tensor
from transformers import LogitsProcessorList, RepetitionPenaltyLogitsProcessor

from soundwave.errors import SoundwaveError
from soundwave.model.compiled import compile_config, compiled_generate_kwargs, warn_eager
from soundwave.model.speculative import can_speculate, speculative_decode


def move_padding_left(input_ids: Tensor, attention_mask: Tensor) -> tuple[Tensor, Tensor]:
    """Roll each right-padded row so its trailing padding comes first (generation appends on the right)."""
    trailing = (attention_mask.flip(1).cumsum(dim=1) == 0).sum(dim=1)  # (B,)
    if not bool(trailing.any()):
        return input_ids, attention_mask
    ids, mask = input_ids.clone(), attention_mask.clone()
    for row, shift in enumerate(trailing.tolist()):
        if shift:
            ids[row] = torch.roll(input_ids[row], shift)
            mask[row] = torch.roll(attention_mask[row], shift)
    return ids, mask


class AudioGenerationMixin:
    """`generate` for a model with `encode_audio`, `splice`, `llm` and `config.llm_pad_token_id`."""

    decode_compile = None  # a transformers CompileConfig once `compile_decoding` is called: static cache, compiled

    def compile_decoding(self, backend="inductor") -> None:
        """Decode with a static KV cache and a compiled one-token step from now on (`compiled.py`); speculative
        drafts are then not used (their passes vary in width). Greedy ids stay those of eager decoding."""
        self.decode_compile = compile_config(self.device.type, backend)

    @torch.no_grad()
    def generate(
        self,
        input_ids: Tensor,
        attention_mask: Tensor | None = None,
        audios: Tensor | None = None,
        audio_lengths: Tensor | None = None,
        windows_per_item: Tensor | None = None,
        audio_encoding=None,
        audios_per_row: Tensor | None = None,
        draft_ids: list[list[int]] | None = None,
        **generate_kwargs,
    ) -> Tensor:
        """Generate from left-padded prompts (right-padded ones are moved left).

        Returns the prompt ids followed by the new ids, (B * num_return_sequences, S + N), as transformers does for
        `input_ids` (right-padded prompts come back moved left); `return_dict_in_generate=True` gives the same in
        `.sequences`. `audio_encoding` (from `encode_audio`) skips encoding the audio again. `draft_ids` (a draft
        per row, e.g. the CTC head's transcript) decode greedy and sampled requests speculatively (`speculative.py`):
        greedy gives the same ids, sampling the same distribution, in fewer LLM passes; the returned dict then also
        has `llm_forward_passes`.
        """
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        input_ids, attention_mask = move_padding_left(input_ids, attention_mask)
        audio = audio_encoding or self.encode_audio(audios, audio_lengths, windows_per_item)
        inputs = self.splice(input_ids, attention_mask, audio, padding_side="left", audios_per_row=audios_per_row)
        generate_kwargs.setdefault("pad_token_id", self.config.llm_pad_token_id)
        if draft_ids is not None and self.decode_compile is None:
            as_dict = generate_kwargs.pop("return_dict_in_generate", False)
            if can_speculate(generate_kwargs, self.llm.generation_config):
                result = speculative_decode(
                    self.llm, inputs.embeds, inputs.attention_mask, inputs.position_ids, draft_ids, **generate_kwargs
                )
                return with_prompt(input_ids, result if as_dict else result.sequences)
            generate_kwargs["return_dict_in_generate"] = as_dict
        if self.decode_compile is not None:
            compiled = compiled_generate_kwargs(self.decode_compile) | generate_kwargs
            try:
                return with_prompt(input_ids, self._llm_generate(inputs, compiled))
            except torch.OutOfMemoryError:
                raise
            except Exception as err:  # the compiler failed: decode eagerly, now and from now on
                self.decode_compile = None
                warn_eager(err)
                if "streamer" in generate_kwargs:  # it has shown tokens already: a rerun would show them twice
                    raise SoundwaveError(f"compiled decoding failed ({type(err).__name__}); ask again") from err
        return with_prompt(input_ids, self._llm_generate(inputs, generate_kwargs))

    def _llm_generate(self, inputs, generate_kwargs: dict):
        return self.llm.generate(
            inputs_embeds=inputs.embeds,
            attention_mask=inputs.attention_mask,
            position_ids=inputs.position_ids,
            **penalty_on_every_new_token(generate_kwargs),
        )


def penalty_on_every_new_token(generate_kwargs: dict) -> dict:
    """The repetition penalty as our own first logits processor, over every token each row generates.

    transformers' `generate` exempts a left-padded row's first k new tokens from its penalty, k the row's padding
    (`prompt_ignore_length`: it takes the prompt to be in `input_ids`; here the prompt is embeddings, so `input_ids`
    holds the new tokens only): a padded row of a batch would answer differently from the same request alone.
    """
    penalty = generate_kwargs.get("repetition_penalty")
    if penalty is None or penalty == 1.0:
        return generate_kwargs
    processors = LogitsProcessorList([RepetitionPenaltyLogitsProcessor(penalty)])
    processors.extend(generate_kwargs.get("logits_processor") or [])
    return generate_kwargs | {"repetition_penalty": 1.0, "logits_processor": processors}


def with_prompt(input_ids: Tensor, output):
    """The LLM's new ids (fed embeddings only, it returns no prompt) behind the prompt ids they continue.

    Args:
        input_ids: (B, S) the prompt ids, left-padded.
        output: (B * R, N) new ids, or a generate output whose `sequences` they are (R sequences per prompt).
    """
    sequences = output if isinstance(output, Tensor) else output.sequences
    repeats = sequences.shape[0] // input_ids.shape[0]
    prompt = input_ids.repeat_interleave(repeats, dim=0)  # (B, S) -> (B * R, S)
    joined = torch.cat([prompt.to(sequences.device), sequences], dim=1)  # (B * R, S + N)
    if isinstance(output, Tensor):
        return joined
    output.sequences = joined
    return output
