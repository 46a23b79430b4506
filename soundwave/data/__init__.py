"""Data: files -> samples -> mixed, length-grouped batches of decoded audio.

Read in this order: `manifest` (Sample, the JSONL formats) -> `sources` (a data config's datasets, skip
counting) -> `dataset` (Example: sample + waveform) -> `mixing` (temperature schedule) -> `batching`
(length grouping, sharding, resume) -> `build` (what the training loop calls).
"""
