#!/usr/bin/env bash
# Rebuild soundwave-mini from scratch: the four synthetic corpora, the 21 training stages of its recipe in order
# (configs/mini/README.md; each stage starts from the one before), the bundle, the evaluation.
# About 12 h on a 2-core CPU; logs in runs/mini/*.log, run folders in runs/mini/<stage>/.
#   bash scripts/train_mini.sh
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p runs/mini
python -m soundwave models prepare whisper-tiny.en >/dev/null
python -m soundwave models prepare smollm2-135m-instruct >/dev/null

synth() {  # DIR RECIPE: build data/DIR from configs/synth/RECIPE.yaml unless it is there
  [ -f "data/$1/train.jsonl" ] || python -m soundwave data synth --out "data/$1" --config "configs/synth/$2.yaml" \
    --workers "$(nproc)" 2> "runs/mini/$1.log"
}
synth synth default           # all tasks; the valid split and the held-out-voice test sets
synth synth-asr asr_more      # transcription, 19,707 distinct sentences
synth synth-voices asr_voices # transcription, 72 espeak voices + the other engines
synth synth-lex asr_lex       # transcription, the fortunes and WordNet examples again, by the same voices

STAGES=(
  stage1_align stage1b_align stage2_shrink stage3_sft stage3b_sft # the three stages on data/synth
  stage1e_align stage3e_sft                                       # + data/synth-asr
  stage1h_align stage3h_sft                                       # a new alignment adapter with a reachable CTC blank
  stage3i_sft stage3j_sft                                         # the LLM reads CTC's embeddings (posterior_embeds)
  stage3k_sft stage3l_sft stage3m_sft stage3n_sft                 # CTC loss at full weight
  stage3p_sft stage3q_sft stage3t_sft                             # 72 voices, SpecAugment, Whisper's top layer
  stage3u_sft stage3w_sft                                         # more distinct text, rare words heard again
  stage4a_spell                                                   # the spelling head
)
for stage in "${STAGES[@]}"; do
  python -m soundwave train "configs/mini/$stage.yaml" 2> "runs/mini/$stage.log"
done
# its decoding defaults (generation.yaml; docs/soundwave-mini.md): the transcription settings chosen on the dev set
python scripts/bundle_model.py runs/mini/stage4a/final soundwave/assets/soundwave-mini --generation repetition_penalty=1.2 \
  --generation transcribe.num_beams=8 --generation transcribe.ctc_weight=0.25 --generation transcribe.spelling_weight=0.45 \
  --generation transcribe.word_repair=0.5 --generation transcribe.word_repair_speech=0.5 --generation transcribe.repair_pool=64
bash scripts/eval_mini.sh  # scored as `soundwave transcribe` decodes it
