#!/usr/bin/env bash
# Joint decoding weights of a model with a spelling head on 100 valid clips (training voices, unseen sentences),
# greedy: each line "valid ctc C spelling S: WER" (docs/mini.md, session 17).
#   bash scripts/spelling_sweep.sh MODEL OUT ["C:S C:S ..."]     (needs data/synth)
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL=$1; OUT=$2; PAIRS=${3:-"0.5:0 0.4:0.2 0.3:0.3 0.25:0.45 0.15:0.45"}
if [ ! -f data/synth/valid_asr.jsonl ]; then python -c "
import json
rows = [json.loads(line) for line in open('data/synth/valid.jsonl')]
open('data/synth/valid_asr.jsonl.tmp', 'w').write(''.join(json.dumps(r) + '\\n' for r in rows if r['task'] == 'asr'))
" && mv data/synth/valid_asr.jsonl.tmp data/synth/valid_asr.jsonl; fi
for pair in $PAIRS; do
  ctc=${pair%:*}; spell=${pair#*:}
  wer=$(python -m soundwave eval --no-progress --batch-size 16 --max-new-tokens 48 --model "$MODEL" --task asr \
    --ctc-weight "$ctc" --spelling-weight "$spell" --data data/synth/valid_asr.jsonl --limit 100 \
    --output "$OUT/valid-ctc$ctc-spell$spell" 2>/dev/null | grep -E "wer \(%\)")
  echo "valid ctc $ctc spelling $spell: $wer"
done
