#!/usr/bin/env bash
# Joint decoding weights of a model with a spelling head, greedy unless EXTRA says otherwise: one line per pair,
# "<set> ctc C spelling S: WER" (experiments/mini/journal.md, sessions 17-18). Default set: 100 valid clips
# (training voices, unseen sentences, needs data/synth); DATA=data/dev-voices/valid.jsonl LIMIT=160 scores the dev set of an unseen
# accent (configs/synth/dev_voices.yaml). EXTRA="--num-beams 4" passes more eval flags.
#   bash experiments/mini/scripts/spelling_sweep.sh MODEL OUT ["C:S C:S ..."]
set -euo pipefail
cd "$(dirname "$0")/../../.."  # the repository root
MODEL=$1; OUT=$2; PAIRS=${3:-"0.5:0 0.4:0.2 0.3:0.3 0.25:0.45 0.15:0.45"}
DATA=${DATA:-data/synth/valid_asr.jsonl}; LIMIT=${LIMIT:-100}; EXTRA=${EXTRA:-}
NAME=$(basename "$(dirname "$DATA")")
if [ "$DATA" = data/synth/valid_asr.jsonl ] && [ ! -f "$DATA" ]; then python -c "
import json
rows = [json.loads(line) for line in open('data/synth/valid.jsonl')]
open('data/synth/valid_asr.jsonl.tmp', 'w').write(''.join(json.dumps(r) + '\\n' for r in rows if r['task'] == 'asr'))
" && mv data/synth/valid_asr.jsonl.tmp data/synth/valid_asr.jsonl; fi
for pair in $PAIRS; do
  ctc=${pair%:*}; spell=${pair#*:}
  tag=$(echo "$EXTRA" | tr -d ' -')
  # shellcheck disable=SC2086
  wer=$(python -m soundwave eval --no-progress --batch-size 16 --max-new-tokens 48 --model "$MODEL" --task asr \
    --ctc-weight "$ctc" --spelling-weight "$spell" --data "$DATA" --limit "$LIMIT" $EXTRA \
    --output "$OUT/$NAME-ctc$ctc-spell$spell$tag" 2>/dev/null | grep -E "wer \(%\)")
  echo "$NAME ctc $ctc spelling $spell $EXTRA: $wer"
done
