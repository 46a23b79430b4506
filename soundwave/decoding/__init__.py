"""Decoding add-ons (ours): plug-ins of one rescoring interface (`rescorer.Rescorer`), composed by the Pipeline.

    joint CTC decoding   ctc_prefix.py (token CTC), spelling_prefix.py (spelling CTC), lexicon.py
    word repair          word_repair.py

`active_rescorers(config)` lists the add-ons a `GenerationConfig` turns on, in the order they run.
"""

from __future__ import annotations

from soundwave.decoding.plugins import JointCTC, WordRepair
from soundwave.decoding.rescorer import DecodeContext, Rescorer

RESCORERS: tuple[Rescorer, ...] = (JointCTC(), WordRepair())


def active_rescorers(config) -> list[Rescorer]:
    """The add-ons `config` turns on, in order."""
    return [rescorer for rescorer in RESCORERS if rescorer.applies(config)]


__all__ = ["DecodeContext", "Rescorer", "RESCORERS", "active_rescorers"]
