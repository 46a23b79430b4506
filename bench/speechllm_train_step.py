"""A SpeechLLM training step, the LLM's output head over every position against only where a label is:

    python bench/speechllm_train_step.py [--config experiments/less-is-more/configs/speechllm.yaml] [--repeats 5]

Builds the model a run config names (LoRA and trainable parameters as training sets them), draws one batch of its
training data and times forward + backward of the loss computed both ways, alternating: `forward`'s loss (logits
(B, L, V) over the prompt and audio too) and `speechllm_loss` (the head at labelled positions only,
`lm_loss_at_targets`). Prints each median, their ratio and the losses (equal but for rounding).
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from soundwave.data.build import build_training_data
from soundwave.model.builder import build_from_spec
from soundwave.processor import processor_for
from soundwave.training.collate import TrainingCollator
from soundwave.training.config import load_run_config
from soundwave.training.losses import speechllm_loss
from soundwave.training.trainer import configure_trainable

DEFAULT = Path(__file__).parents[1] / "experiments" / "less-is-more" / "configs" / "speechllm.yaml"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=str(DEFAULT), help="a SpeechLLM run config")
    parser.add_argument("overrides", nargs="*", help="key=value overrides of the config")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    cfg = load_run_config(args.config, args.overrides)
    model, tokenizer, extractor = build_from_spec(cfg.model.to_spec())
    configure_trainable(model, cfg.training)
    model.train()
    data = build_training_data(cfg.data, batch_size=cfg.training.per_device_train_batch_size, num_batches=1)
    collator = TrainingCollator(processor_for(model, tokenizer, extractor))
    batch = collator([data.dataset[i] for i in next(iter(data.sampler))])

    def forward_loss():
        return model(
            input_ids=batch.input_ids,
            attention_mask=batch.attention_mask,
            audios=batch.audios,
            audio_lengths=batch.audio_lengths,
            labels=batch.labels,
            windows_per_item=batch.windows_per_item,
            audios_per_row=batch.audios_per_row,
        ).loss

    ways = {
        "logits everywhere (forward)": forward_loss,
        "head at labels (speechllm_loss)": lambda: speechllm_loss(model, batch),
    }
    times: dict[str, list[float]] = {name: [] for name in ways}
    losses: dict[str, float] = {}
    for _ in range(args.repeats + 1):  # the first round warms up
        for name, loss_of in ways.items():
            model.zero_grad(set_to_none=True)
            started = time.perf_counter()
            loss = loss_of()
            loss.backward()
            times[name].append(time.perf_counter() - started)
            losses[name] = float(loss.detach())
    labelled = int((batch.labels != -100).sum())
    print(f"batch: {tuple(batch.input_ids.shape)} ids, {labelled} labelled tokens, audio {tuple(batch.audios.shape)}")
    medians = {name: statistics.median(t[1:]) for name, t in times.items()}
    for name, median in medians.items():
        print(f"{name}: median {median:.3f} s (loss {losses[name]:.6f})")
    old, new = medians.values()
    print(f"ratio {new / old:.3f}")


if __name__ == "__main__":
    main()
