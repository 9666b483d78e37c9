#!/usr/bin/env bash
# Issue 25's GPU table: 5 seeds of MNIST <-> digits and MNIST <-> MNIST-M (four directions), the
# cyclegan_gpu recipe, all ten runs side by side on one GPU, in one device call of at most 8 minutes.
#
# Here, once (data/ and wheels/ are git-ignored; the device machine sees only the checkout and
# has no registry: bring what its image lacks as wheels):
#     mkdir -p data && cp -r ../shared/data/mnist data/
#     pip download --only-binary=:all: --python-version 3.11 -d wheels scikit-image safetensors typer rich pyyaml
# Then with the device tool:
#     run(command="bash benchmarks/device_translate.sh", carry=["data", "wheels"], timeout_s=600)
#
# Each run stops after BUDGET_MIN minutes whatever its step (an unfinished run is labelled so in the
# table, never passed off as a finished one); the ten records are merged into
# docs/records/translate.json and the page is rendered. $OUT gets the record, the results page and the
# logs. Knobs: SEEDS (5), BUDGET_MIN (6), RECIPE (cyclegan_gpu), DEVICE (cuda), GANKIT_DATA (data),
# EXTRA (more benchmark arguments, e.g. "--set classifier_steps=20" to try the flow on a CPU).
set -uo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH=src MPLBACKEND=Agg PYTHONUNBUFFERED=1 GANKIT_DATA="${GANKIT_DATA:-data}"
OUT="${OUT:-/tmp/device_translate_out}"
mkdir -p "$OUT" benchmarks/runs/translate_gpu
[ -d wheels ] && pip install --quiet --no-index --find-links wheels scikit-image safetensors typer rich pyyaml \
    > "$OUT/pip.txt" 2>&1
python3 -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())" | tee "$OUT/env.txt"
RECIPE="${RECIPE:-cyclegan_gpu}"
for pair in mnist-digits mnist-mnistm; do
  for seed in $(seq 0 $(( ${SEEDS:-5} - 1 ))); do
    python3 benchmarks/translate.py --recipe "$RECIPE" --pairs "$pair" --first-seed "$seed" --seeds 1 \
        --device "${DEVICE:-cuda}" --threads 1 --set "max_minutes=${BUDGET_MIN:-6}" ${EXTRA:-} \
        --runs benchmarks/runs/translate_gpu --record "benchmarks/runs/translate_gpu/$pair-$seed.json" \
        --doc "benchmarks/runs/translate_gpu/$pair-$seed.md" > "benchmarks/runs/translate_gpu/$pair-$seed.log" 2>&1 &
  done
done
wait
python3 - <<'PY'
import json, pathlib
rows = []
for path in sorted(pathlib.Path("benchmarks/runs/translate_gpu").glob("*-*.json")):
    rows += json.loads(path.read_text())
record = pathlib.Path("docs/records/translate.json")
old = json.loads(record.read_text()) if record.is_file() else []
keep = {(r["pair"], r["recipe"], r["seed"], tuple(r["overrides"])): r for r in old + rows}
record.parent.mkdir(parents=True, exist_ok=True)
record.write_text(json.dumps(sorted(keep.values(), key=lambda r: (r["pair"], r["recipe"], r["seed"])), indent=1) + "\n")
print(f"{len(rows)} runs merged into {record}")
PY
python3 benchmarks/translate.py --collect > "$OUT/table.md" 2>&1
cp docs/records/translate.json docs/results.md "$OUT/"
tar czf "$OUT/logs.tgz" benchmarks/runs/translate_gpu/*.log benchmarks/runs/translate_gpu/*/scores.jsonl 2>/dev/null
ls -la "$OUT"
