#!/usr/bin/env bash
# Joint CTC / LLM decoding knobs on 100 valid clips (training voices, unseen sentences), greedy, ctc_weight 0.5:
#   bash experiments/mini/scripts/decode_sweep.sh MODEL OUT   (needs data/synth; experiments/mini/journal.md, session 16)
set -euo pipefail
cd "$(dirname "$0")/../../.."  # the repository root
MODEL=$1; OUT=$2
if [ ! -f data/synth/valid_asr.jsonl ]; then python -c "
import json
rows = [json.loads(line) for line in open('data/synth/valid.jsonl')]
open('data/synth/valid_asr.jsonl.tmp', 'w').write(''.join(json.dumps(r) + '\\n' for r in rows if r['task'] == 'asr'))
" && mv data/synth/valid_asr.jsonl.tmp data/synth/valid_asr.jsonl; fi
ev() { python -m soundwave eval --no-progress --batch-size 16 --max-new-tokens 48 --model "$MODEL" --task asr \
  --ctc-weight 0.5 --data data/synth/valid_asr.jsonl --limit 100 "$@" 2>/dev/null | grep -E "wer \(%\)"; }
for opt in "" "--ctc-blank-penalty 1" "--ctc-blank-penalty 2" "--ctc-length-bonus 0.5" "--ctc-length-bonus 1"; do
  name=$(echo "base $opt" | tr ' ' '_' | tr -s '_')
  echo "valid $opt: $(ev --output "$OUT/valid-$name" $opt)"
done
