"""Each trick of the figure on hand-built tensors: stacking, keep mask, gathering, look-back, splice."""

import pytest
import torch

from soundwave.model.align_adapter import AlignAdapter, reachable_blank_row, stack_frames
from soundwave.model.shrink_adapter import (
    LookBack,
    PosteriorMix,
    ShrinkAdapter,
    ctc_keep_mask,
    expected_embeddings,
    gather_kept,
)
from soundwave.model.splice import IGNORE_INDEX, splice_audio

BLANK = 0


def test_stack_frames_concatenates_pairs_and_zero_pads_tail():
    frames = torch.arange(2 * 5 * 3, dtype=torch.float).reshape(2, 5, 3)
    stacked, lengths = stack_frames(frames, torch.tensor([5, 3]))
    assert stacked.shape == (2, 3, 6)
    assert torch.equal(stacked[0, 0], torch.cat([frames[0, 0], frames[0, 1]]))
    assert torch.equal(stacked[0, 2], torch.cat([frames[0, 4], torch.zeros(3)]))
    assert torch.equal(stacked[1, 1], torch.cat([frames[1, 2], torch.zeros(3)]))  # frame 3 is padding
    assert lengths.tolist() == [3, 2]


def test_released_keep_mask_keeps_run_starts_including_blanks():
    tokens = torch.tensor([[0, 3, 3, 0, 3, 4, 4, 0]])
    keep = ctc_keep_mask(tokens, torch.tensor([8]), BLANK, drop_blanks=False)
    assert keep.nonzero()[:, 1].tolist() == [0, 1, 3, 4, 5, 7]


def test_paper_keep_mask_drops_blank_runs_and_padding():
    tokens = torch.tensor([[0, 3, 3, 0, 3, 4, 4, 5]])
    keep = ctc_keep_mask(tokens, torch.tensor([7]), BLANK, drop_blanks=True)
    assert keep.nonzero()[:, 1].tolist() == [1, 4, 5]


def test_gather_kept_packs_in_order_and_zero_pads():
    aligned = torch.arange(2 * 4, dtype=torch.float).reshape(2, 4, 1)
    keep = torch.tensor([[True, False, True, True], [False, True, False, False]])
    kept, lengths = gather_kept(aligned, keep)
    assert lengths.tolist() == [3, 1]
    assert kept[..., 0].tolist() == [[0.0, 2.0, 3.0], [5.0, 0.0, 0.0]]


def test_lookback_ignores_masked_frames():
    lookback = LookBack(dim=8, num_heads=2, dropout=0.0).eval()
    queries, frames = torch.randn(1, 3, 8), torch.randn(1, 5, 8)
    padded = torch.cat([frames, torch.randn(1, 4, 8)], dim=1)
    is_pad = torch.tensor([[False] * 5 + [True] * 4])
    torch.testing.assert_close(lookback(queries, padded, is_pad), lookback(queries, frames, is_pad[:, :5]))


def test_released_alignment_layer_is_per_frame():
    """Spec 3.2: the release's transformer layer does no temporal mixing; the paper's does."""
    torch.manual_seed(0)
    released = AlignAdapter(4, 8, 2, 16, vocab_size=10, dropout=0.0, temporal=False).eval()
    paper = AlignAdapter(4, 8, 2, 16, vocab_size=10, dropout=0.0, temporal=True).eval()
    paper.load_state_dict(released.state_dict())
    frames = torch.randn(1, 6, 4)
    changed = frames.clone()
    changed[0, 4:] += 1.0  # only the last adapter frame's input changes
    lengths = torch.tensor([6])
    for adapter, mixes in ((released, False), (paper, True)):
        with torch.no_grad():
            a, _, _ = adapter(frames, lengths)
            b, _, _ = adapter(changed, lengths)
        assert torch.allclose(a[0, :2], b[0, :2]) != mixes


@pytest.mark.parametrize("temporal", [False, True])
def test_added_alignment_layers_start_as_the_identity_and_then_train(temporal):
    """A deeper adapter built on a one-layer adapter's weights gives its output exactly, and its new layers learn."""
    torch.manual_seed(0)
    one = AlignAdapter(4, 8, 2, 16, vocab_size=10, dropout=0.0, temporal=temporal).eval()
    deep = AlignAdapter(4, 8, 2, 16, vocab_size=10, dropout=0.0, temporal=temporal, num_layers=3).eval()
    missing, unexpected = deep.load_state_dict(one.state_dict(), strict=False)
    assert not unexpected and missing and all(k.startswith("more_layers.") for k in missing)
    deep.start_more_layers_as_identity()
    frames, lengths = torch.randn(2, 6, 4), torch.tensor([6, 4])
    expected, _, _ = one(frames, lengths)
    aligned, logits, _ = deep(frames, lengths)
    assert torch.allclose(aligned, expected, atol=1e-6)
    logits.square().mean().backward()
    assert deep.more_layers[1].linear2.weight.grad.abs().sum() > 0


def test_the_ctc_head_runs_on_valid_frames_only_and_trains_through_them():
    adapter = AlignAdapter(4, 8, 2, 16, vocab_size=10, dropout=0.0, temporal=True).eval()
    aligned = torch.randn(3, 5, 8, requires_grad=True)
    lengths = torch.tensor([5, 2, 0])
    logits = adapter.ctc_logits(aligned, lengths)  # (3, 5, 10)
    full = adapter.ctc_head(aligned)
    assert torch.allclose(logits[0], full[0], atol=1e-6) and torch.allclose(logits[1, :2], full[1, :2], atol=1e-6)
    assert not logits[1, 2:].any() and not logits[2].any()  # padding: zeros, never computed
    logits.sum().backward()
    assert aligned.grad[1, :2].abs().sum() > 0 and not aligned.grad[1, 2:].any()
    assert adapter.ctc_logits(aligned, torch.tensor([5, 5, 5])).equal(adapter.ctc_head(aligned))  # nothing padded


def test_alignment_adapter_needs_a_layer():
    with pytest.raises(ValueError, match="at least one transformer layer"):
        AlignAdapter(4, 8, 2, 16, vocab_size=10, num_layers=0)


def test_splice_replaces_placeholder_and_realigns_labels():
    P = 9
    ids = torch.tensor([[1, P, 2, 3], [1, 2, P, 0]])
    mask = torch.tensor([[1, 1, 1, 1], [1, 1, 1, 0]])
    labels = torch.tensor([[IGNORE_INDEX, IGNORE_INDEX, 2, 3], [IGNORE_INDEX, IGNORE_INDEX, IGNORE_INDEX, 0]])
    text = ids[..., None].float()  # embeds = the id itself
    audio = torch.tensor([[[100.0], [101.0]], [[200.0], [0.0]]])
    out = splice_audio(text, ids, mask, audio, torch.tensor([2, 1]), P, labels=labels)
    assert out.embeds[..., 0].tolist() == [[1, 100, 101, 2, 3], [1, 2, 200, 0, 0]]
    assert out.attention_mask.tolist() == [[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]]
    assert out.position_ids.tolist() == [[0, 1, 2, 3, 4], [0, 1, 2, 3, 0]]
    assert out.labels.tolist() == [[-100, -100, -100, 2, 3], [-100, -100, -100, 0, -100]]


def test_splice_left_padding_and_masked_keys():
    P, EOT = 9, 4
    ids = torch.tensor([[0, 0, 1, P, EOT, 2], [1, EOT, 3, P, 5, 6]])
    mask = torch.tensor([[0, 0, 1, 1, 1, 1], [1, 1, 1, 1, 1, 1]])
    text = ids[..., None].float()
    audio = torch.tensor([[[100.0]], [[200.0]]])
    out = splice_audio(text, ids, mask, audio, torch.tensor([1, 1]), P, masked_key_id=EOT, padding_side="left")
    assert out.attention_mask.tolist() == [[0, 0, 1, 1, 0, 1], [1, 0, 1, 1, 1, 1]]
    assert out.position_ids.tolist() == [[0, 0, 0, 1, 2, 3], [0, 1, 2, 3, 4, 5]]


@pytest.mark.parametrize("count", [0, 2])
def test_splice_rejects_wrong_placeholder_count(count):
    ids = torch.tensor([[1] + [9] * count + [2]])
    with pytest.raises(ValueError, match=f"row 0: expected exactly 1 audio placeholder, found {count}"):
        splice_audio(ids[..., None].float(), ids, torch.ones_like(ids), torch.zeros(1, 1, 1), torch.tensor([1]), 9)


def test_deeper_alignment_adapters_map_to_the_release_layer_list():
    from soundwave.model.released_format import to_ours, to_released

    pairs = {
        "model.asr_transformer_encoder.layers.0.linear1.weight": "align_adapter.layer.linear1.weight",
        "model.asr_transformer_encoder.layers.1.linear1.weight": "align_adapter.more_layers.0.linear1.weight",
        "model.asr_transformer_encoder.layers.12.norm1.bias": "align_adapter.more_layers.11.norm1.bias",
        "model.layers.3.mlp.up_proj.weight": "llm.model.layers.3.mlp.up_proj.weight",
    }
    for released, ours in pairs.items():
        assert to_ours(released) == ours
        assert to_released(ours) == released


def test_the_mean_row_can_never_win_and_the_reachable_blank_can():
    """A blank row at the mean of the token rows is dominated (never the top logit); `reachable_blank_row` is not."""
    torch.manual_seed(0)
    tokens = torch.randn(500, 16) + 0.5  # a cloud of token rows
    mean_blank = tokens.mean(0)
    outputs = torch.randn(2000, 16) * 3  # adapter outputs in every direction
    with_mean = torch.cat([tokens, mean_blank[None]]) @ outputs.T  # (501, 2000)
    assert not (with_mean.argmax(0) == 500).any()
    blank = reachable_blank_row(tokens)
    head = torch.cat([tokens, blank[None]])
    assert int((head @ blank).argmax()) == 500  # pointing the output at it makes the blank win
    assert torch.equal(reachable_blank_row(tokens), blank)  # seeded: the same row every time


def test_expected_embeddings_are_the_rows_ctc_is_sure_of_packed_like_the_kept_frames():
    rows = torch.randn(6, 4)  # (V, D)
    tokens = torch.tensor([[5, 2, 2, 5, 3], [1, 5, 5, 5, 5]])  # blank = 5
    logits = torch.nn.functional.one_hot(tokens, 6).float() * 50  # sure of every frame
    keep = ctc_keep_mask(tokens, torch.tensor([5, 2]), blank_id=5, drop_blanks=True)
    text = expected_embeddings(logits, keep, rows)  # (B, K, D)
    assert text.shape == (2, 2, 4)
    torch.testing.assert_close(text[0], rows[[2, 3]])
    torch.testing.assert_close(text[1, 0], rows[1])
    assert torch.equal(text[1, 1], torch.zeros(4))  # past the row's one kept frame
    unsure = expected_embeddings(torch.zeros(1, 1, 6), torch.ones(1, 1, dtype=torch.bool), rows)
    torch.testing.assert_close(unsure[0, 0], rows.mean(0))  # a flat posterior: the mean row


def test_posterior_mix_starts_as_the_text_and_learns_the_gate():
    mix = PosteriorMix(4)
    text, looked_back = torch.randn(2, 3, 4), torch.randn(2, 3, 4)
    assert torch.equal(mix(text, looked_back), text)
    mix(text, looked_back).pow(2).sum().backward()
    assert mix.gate.grad.abs().sum() > 0  # the look-back can come in through training
    with torch.no_grad():
        mix.gate.fill_(0.5)
    torch.testing.assert_close(mix(text, looked_back), text + 0.5 * looked_back)


def test_posterior_shrink_adapter_needs_the_logits_and_the_rows():
    adapter = ShrinkAdapter(8, 2, dropout=0.0, paper=True, posterior_embeds=True)
    tokens, lengths = torch.tensor([[1, 1, 0, 2]]), torch.tensor([4])
    with pytest.raises(ValueError, match="ctc_logits and text_rows"):
        adapter(torch.randn(1, 4, 8), tokens, lengths, blank_id=0)
    rows = torch.randn(3, 8)
    logits = torch.nn.functional.one_hot(tokens, 3).float() * 50
    embeds, kept_lengths, _ = adapter(torch.randn(1, 4, 8), tokens, lengths, 0, ctc_logits=logits, text_rows=rows)
    assert kept_lengths.tolist() == [2]
    torch.testing.assert_close(embeds[0], rows[[1, 2]])  # the gate starts shut: the LLM's own embeddings
