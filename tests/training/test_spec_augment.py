"""SpecAugment on training log-mels (and on cached encoder frames): masks stay inside each row's valid part, within
their widths, and fill with the row's mean; off when the counts are 0; reproducible; rejected where it cannot work."""

import pytest
import torch

from soundwave.errors import ConfigError
from soundwave.training.config import load_run_config
from soundwave.training.spec_augment import SpecAugment, band_mask, frame_augment, spec_augment

LENGTHS = torch.tensor([500, 300, 120])


def batch(seed=0):
    mel = torch.randn(3, 80, 500, generator=torch.Generator().manual_seed(seed))  # (W, n_mels, F)
    return mel.masked_fill(torch.arange(500)[None, None, :] >= LENGTHS[:, None, None], -1.5)  # collator's padding


def test_masks_touch_only_valid_frames_and_fill_with_the_row_mean():
    mel = batch()
    cfg = SpecAugment(freq_masks=2, freq_width=15, time_masks=2, time_width=40, max_time_fraction=0.1)
    for seed in range(20):
        out = spec_augment(mel, LENGTHS, cfg, torch.Generator().manual_seed(seed))
        for row, length in enumerate(LENGTHS.tolist()):
            changed = out[row] != mel[row]  # (n_mels, F)
            assert not changed[:, length:].any(), "the padded tail was masked"
            valid = mel[row, :, :length]
            assert torch.allclose(out[row][changed], valid.mean().expand(int(changed.sum())))
            whole_bins = int(changed[:, :length].all(dim=1).sum())
            whole_frames = int(changed[:, :length].all(dim=0).sum())
            assert whole_bins <= 2 * 15
            assert whole_frames <= 2 * min(40, int(length * 0.1))


def test_masks_happen_and_are_reproducible():
    mel, cfg = batch(), SpecAugment()
    first = spec_augment(mel, LENGTHS, cfg, torch.Generator().manual_seed(3))
    again = spec_augment(mel, LENGTHS, cfg, torch.Generator().manual_seed(3))
    other = spec_augment(mel, LENGTHS, cfg, torch.Generator().manual_seed(4))
    torch.testing.assert_close(first, again)
    assert not torch.equal(first, other)
    changed = [int((spec_augment(mel, LENGTHS, cfg, torch.Generator().manual_seed(s)) != mel).sum()) for s in range(8)]
    assert sum(changed) > 0 and len(set(changed)) > 1


def test_frame_augment_masks_feature_bands_and_frame_spans_of_valid_frames():
    frames = batch().transpose(1, 2)  # (W, T, D): 500 frames of 80 features
    cfg = SpecAugment(freq_masks=1, freq_width=10, time_masks=1, time_width=30, max_time_fraction=0.2)
    for seed in range(10):
        out = frame_augment(frames, LENGTHS, cfg, torch.Generator().manual_seed(seed))  # (W, T, D)
        assert out.shape == frames.shape
        for row, length in enumerate(LENGTHS.tolist()):
            changed = out[row] != frames[row]  # (T, D)
            assert not changed[length:].any(), "a padded frame was masked"
            assert int(changed[:length].all(dim=1).sum()) <= min(30, int(length * 0.2))  # whole frames: one span
            assert int(changed[:length].all(dim=0).sum()) <= 10  # whole features: one band
            assert torch.allclose(out[row][changed], frames[row, :length].mean().expand(int(changed.sum())))
    assert not torch.equal(frame_augment(frames, LENGTHS, cfg), frames)


def test_zero_masks_leave_the_batch_alone():
    mel = batch()
    off = SpecAugment(freq_masks=0, time_masks=0)
    assert torch.equal(spec_augment(mel, LENGTHS, off), mel)


def test_band_mask_stays_within_each_rows_limit():
    limit = torch.tensor([10, 3, 0])
    for seed in range(30):
        hit = band_mask(12, torch.tensor([8, 8, 8]), 3, limit, torch.Generator().manual_seed(seed))  # (3, 12)
        assert not hit[0, 10:].any() and not hit[1, 3:].any() and not hit[2].any()


def test_config_checks(run_config, tmp_path):
    with pytest.raises(ConfigError, match="spec_augment.freq_width"):
        SpecAugment(freq_width=-1)
    with pytest.raises(ConfigError, match="max_time_fraction"):
        SpecAugment(max_time_fraction=0.0)
    cfg = run_config(tmp_path / "x", spec_augment={"freq_masks": 1}, cache_encoder_outputs=True)
    with pytest.raises(ConfigError, match="cache_encoder_outputs"):
        load_run_config(cfg)
    with pytest.raises(ConfigError, match="frame_augment"):
        load_run_config(run_config(tmp_path / "z", frame_augment={"time_masks": 1}))
    assert load_run_config(
        run_config(tmp_path / "w", frame_augment={"time_masks": 1}, cache_encoder_outputs=True)
    ).training.frame_augment == SpecAugment(time_masks=1)
    with pytest.raises(ConfigError, match="freq_mask"):
        load_run_config(run_config(tmp_path / "y"), ["training.spec_augment.freq_mask=2"])
