"""Tests of soundwave.synth: offline speech corpus synthesis."""
