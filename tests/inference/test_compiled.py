"""The compiled decode step (static KV cache + torch.compile, `soundwave/model/compiled.py`) on the CPU: the ids of
eager decoding, and eager decoding again where the compiler fails. One compile (about a minute here) serves the
module: every compiled call has the same batch and length."""

import pytest
import torch

from tests.inference.conftest import REFERENCE

GREEDY = {"greedy": True, "max_new_tokens": 12, "draft": "none"}
JOINT = {**GREEDY, "ctc_weight": 0.3}


@pytest.fixture(scope="module")
def compiled():
    from soundwave.inference.pipeline import Pipeline

    yield Pipeline.from_pretrained(str(REFERENCE / "checkpoint"), compile=True)
    torch._dynamo.reset()  # the compiled graphs go with the module


def _texts(pipe, clips, **options):
    return [r.text for r in pipe.transcribe_batch(clips, batch_size=len(clips), **options)]


def test_compiled_decoding_gives_eager_decodings_ids(pipe, compiled, clips):
    assert compiled.model.decode_compile is not None and pipe.model.decode_compile is None
    ids = []
    original = compiled.model.llm.generate

    def spy(**kwargs):  # what the compiled pipeline asks transformers for
        ids.append((kwargs.get("cache_implementation"), kwargs.get("compile_config")))
        return original(**kwargs)

    compiled.model.llm.generate = spy
    try:
        for options in (GREEDY, JOINT):  # joint CTC scores in a logits processor, outside the compiled step
            assert _texts(compiled, clips, **options) == _texts(pipe, clips, **options)
    finally:
        del compiled.model.llm.generate
    assert ids and all(cache == "static" and config is compiled.model.decode_compile for cache, config in ids)
    assert compiled.model.decode_compile is not None  # it compiled: no fallback happened


def test_a_ctc_draft_is_not_used_by_the_compiled_step(compiled, pipe, clips):
    (fast,) = compiled.transcribe_batch(clips[:1], **{**GREEDY, "draft": "ctc"})
    (plain,) = pipe.transcribe_batch(clips[:1], **GREEDY)
    assert fast.text == plain.text and fast.llm_forward_passes == fast.output_tokens


def test_a_failing_compiler_falls_back_to_eager_decoding(pipe, clips):
    from soundwave.inference.pipeline import Pipeline

    broken = Pipeline.from_pretrained(str(REFERENCE / "checkpoint"))

    def backend(graph, example_inputs):
        raise RuntimeError("no C++ compiler here")

    broken.model.compile_decoding(backend=backend)
    with pytest.warns(RuntimeWarning, match="compiled decoding failed .*no C\\+\\+ compiler"):
        texts = _texts(broken, clips, **GREEDY)
    assert texts == _texts(pipe, clips, **GREEDY)
    assert broken.model.decode_compile is None  # eager from now on: no second warning, no second try
