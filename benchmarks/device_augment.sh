#!/usr/bin/env bash
# Issue 27's GPU tables in one device call of at most 8 minutes: `gankit augment` on MNIST and
# Fashion-MNIST at 100 and 1,000 labels, 5 seeds, every arm (20 runs), then the DiffAugment table
# (DCGAN on 1 %, 10 %, 100 % of both datasets, with and without DiffAugment: 12 runs, FID on 10,000
# samples). The runs of each table go side by side on the one GPU (JOBS at a time).
#
# Here, once (data/ and wheels/ are git-ignored; the device machine sees only the checkout and has no
# registry: bring what its image lacks as wheels):
#     mkdir -p data && cp -r ../shared/data/mnist ../shared/data/fashion-mnist data/
#     pip download --only-binary=:all: --python-version 3.11 -d wheels safetensors typer rich pyyaml
# Then with the device tool:
#     run(command="bash benchmarks/device_augment.sh", carry=["data", "wheels"], timeout_s=600)
#
# Each table has a time box (ARMS_MIN, DIFFAUG_MIN minutes); a run still going then is killed and
# leaves no row (the page shows only finished runs and says how many seeds each cell has). The rows
# are merged into docs/records/augment.json and the page is rendered; $OUT gets the record, the page
# and the logs. Knobs: SEEDS (5), JOBS (12), ARMS_MIN (4), DIFFAUG_MIN (3), STEPS (DCGAN steps, 10000; at the CPU table's 3,000 DiffAugment was still behind),
# N (FID samples, 10000), DEVICE (cuda), EXTRA_ARMS / EXTRA_DIFFAUG (more benchmark arguments, e.g.
# "--set gan_steps=10 --set steps=10" / "--steps 10 --n 500" to try the flow on a CPU).
set -uo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH=src MPLBACKEND=Agg PYTHONUNBUFFERED=1 GANKIT_DATA="${GANKIT_DATA:-data}"
OUT="${OUT:-/tmp/device_augment_out}"
RUNS=benchmarks/runs/augment_gpu
mkdir -p "$OUT" "$RUNS"
[ -d wheels ] && pip install --quiet --no-index --find-links wheels safetensors typer rich pyyaml > "$OUT/pip.txt" 2>&1
python3 -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())" | tee "$OUT/env.txt"
DEVICE="${DEVICE:-cuda}"

jobs_arms() {
  for dataset in mnist fashion-mnist; do for labels in 100 1000; do for seed in $(seq 0 $(( ${SEEDS:-5} - 1 ))); do
    echo "$dataset $labels $seed"
  done; done; done
}
jobs_diffaug() {
  for dataset in mnist fashion-mnist; do for fraction in 0.01 0.1 1.0; do echo "$dataset $fraction"; done; done
}
export DEVICE RUNS EXTRA_ARMS="${EXTRA_ARMS:-}" EXTRA_DIFFAUG="${EXTRA_DIFFAUG:-}" STEPS="${STEPS:-10000}" N="${N:-10000}"

# every run writes its own record file (no two writers share one); merged below. Each run is time-boxed
# to its table's end (SIGTERM: the loop saves and stops; an unfinished run leaves no row).
left() { echo $(( PHASE_END - $(date +%s) )); }
export -f left
export PHASE_END=$(( $(date +%s) + $(python3 -c "print(int(60 * ${ARMS_MIN:-4}))") ))
jobs_arms | xargs -P "${JOBS:-12}" -L 1 bash -c '
  [ "$(left)" -gt 10 ] || exit 0
  timeout "$(left)" python3 benchmarks/augment.py arms --datasets "$0" --labels "$1" --first-seed "$2" --seeds 1 \
    --device "$DEVICE" --threads 1 --runs "$RUNS" --record "$RUNS/arms-$0-$1-$2.json" --doc "$RUNS/arms-$0-$1-$2.md" \
    $EXTRA_ARMS > "$RUNS/arms-$0-$1-$2.log" 2>&1'
export PHASE_END=$(( $(date +%s) + $(python3 -c "print(int(60 * ${DIFFAUG_MIN:-3}))") ))
jobs_diffaug | xargs -P "${JOBS:-12}" -L 1 bash -c '
  [ "$(left)" -gt 10 ] || exit 0
  timeout "$(left)" python3 benchmarks/augment.py diffaug --datasets "$0" --fractions "$1" --steps "$STEPS" --n "$N" \
    --device "$DEVICE" --threads 1 --runs "$RUNS" --record "$RUNS/diffaug-$0-$1.json" --doc "$RUNS/diffaug-$0-$1.md" \
    $EXTRA_DIFFAUG > "$RUNS/diffaug-$0-$1.log" 2>&1'

python3 - <<'PY'
import json, pathlib, sys
sys.path.insert(0, "benchmarks")
from augment import RECORD, add_row, read_record
keys = {"arms": ("dataset", "labels", "seed", "recipe"), "diffaug": ("dataset", "fraction", "diffaug", "steps", "seed")}
merged = 0
for path in sorted(pathlib.Path("benchmarks/runs/augment_gpu").glob("*.json")):
    part = read_record(path)
    for kind, rows in part.items():
        for row in rows:
            add_row(kind, row, keys[kind], RECORD)
            merged += 1
print(f"{merged} rows merged into {RECORD}")
PY
python3 benchmarks/augment.py doc > "$OUT/table.md" 2>&1
cp docs/records/augment.json docs/results.md docs/img/augment_*.png "$OUT/"
tar czf "$OUT/logs.tgz" "$RUNS"/*.log 2>/dev/null
ls -la "$OUT"
