"""Offline synthetic speech corpora: local TTS engines (espeak-ng, flite, festival, piper, hibari) speak
templated and collected English text into training and evaluation sets for speech-LLMs.

Read in this order: `voices` (who speaks), `engines` (text -> 16 kHz wav), `text` / `facts` /
`instructions` (what is said or asked), `tasks` (prompts and answers), `recipe` (the YAML schema), `plan`
(deterministic jobs), `corpus` (parallel, resumable build). The CLI is `soundwave data synth`.
"""

from soundwave.synth.engines import render, synthesize
from soundwave.synth.recipe import SynthRecipe, load_recipe
from soundwave.synth.voices import SynthesisError, Voice, get_voice

__all__ = ["SynthRecipe", "SynthesisError", "Voice", "get_voice", "load_recipe", "render", "synthesize"]
