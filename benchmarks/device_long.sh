#!/usr/bin/env bash
# Issue 29's long runs on a lent GPU, each PART one device call of at most 8 minutes, every training
# step captured (train.compile / compile=true: torch.compile with CUDA graphs):
#
#   PART=semisup-paper   ssgan_mnist100, the paper's 300 epochs, seeds 0-4 side by side
#   PART=semisup-pi      ssgan_mnist100_pi, its recipe's epochs, seeds 0-4 side by side
#   PART=gan2014         gan2014_mnist for GAN2014_STEPS updates (125,000: 250 epochs, where the released
#                        code's momentum ramp ends; the recipe's own length is 30,000), then the Parzen
#                        estimate on the 10,000 test images (benchmarks/gan_table.py evaluates with -n 10000)
#   PART=table-mnist-S   every GAN recipe on MNIST at its full length, seed S (0, 1, 2)
#   PART=table-fashion-S the same on Fashion-MNIST
#                        (ONLY="gan2014 dcgan": some of the recipes, to split a part that does not fit
#                        its call: checkpoints do not come back, so a part stopped by its time box
#                        starts over in the next call)
#
# Here, once (data/ and wheels/ are git-ignored; the device machine sees only the checkout and has no
# registry: bring what its image lacks as wheels):
#     mkdir -p data && cp -r ../shared/data/mnist ../shared/data/fashion-mnist data/
#     pip download --only-binary=:all: --python-version 3.11 -d wheels safetensors typer rich pyyaml scipy
# Then, one call per part:
#     run(command="PART=semisup-paper bash benchmarks/device_long.sh", carry=["data", "wheels"], timeout_s=600)
#
# Each part stops cleanly after BUDGET_S seconds (Ctrl-C to the trainer: a checkpoint, and a run
# listed as unfinished, never as a result). $OUT gets what the tables are updated from: the record
# entries and page sections each benchmark writes, and the runs' small files (no checkpoints).
# Copy them over docs/ here and commit. Knobs: PART, BUDGET_S (470), DEVICE (cuda), EXTRA (more
# benchmark arguments, e.g. "--steps 20 -n 500" for a table part, to try the flow on a CPU).
set -uo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH=src:benchmarks MPLBACKEND=Agg PYTHONUNBUFFERED=1 GANKIT_DATA="${GANKIT_DATA:-data}"
OUT="${OUT:-/tmp/device_long_out}"
PART="${PART:?set PART: semisup-paper, semisup-pi, gan2014, table-mnist-S or table-fashion-S}"
DEVICE="${DEVICE:-cuda}"
mkdir -p "$OUT"
[ -d wheels ] && pip install --quiet --no-index --find-links wheels safetensors typer rich pyyaml scipy > "$OUT/pip.txt" 2>&1
python3 -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())" | tee "$OUT/env.txt"

# The GAN parts share one runs folder (run folders are named by recipe, dataset and seed): unpack every
# part's runs.tgz here, then `python benchmarks/gan_table.py --collect --runs benchmarks/runs/gan_table_gpu`
# puts the rows in docs/records/gan_table.json (replacing the CPU rows of the same recipe, data and seed)
# and rewrites the table. $OUT/gan_table.json and .md are this part's rows alone, to look at.
GAN_RUNS=benchmarks/runs/gan_table_gpu
table() {   # dataset, seed: every recipe at full length
  RUNS=$GAN_RUNS
  CMD=(python3 benchmarks/gan_table.py --datasets "$1" --first-seed "$2" --compile --quiet --runs "$RUNS"
       -n 10000 --record "$OUT/gan_table.json" --out "$OUT/gan_table.md" ${ONLY:+--only $ONLY} ${EXTRA:-})
}
case "$PART" in
  semisup-paper|semisup-pi)
    TASK=$([ "$PART" = semisup-paper ] && echo mnist100 || echo mnist100-pi)
    EPOCHS=$([ "$PART" = semisup-paper ] && echo 300 || echo "")
    RUNS=benchmarks/runs/semisup_gpu
    CMD=(python3 benchmarks/semisup_mnist.py --tasks "$TASK" --methods ssgan --device "$DEVICE" --seeds 5
         --parallel-seeds 5 ${EPOCHS:+--epochs "$EPOCHS"} --runs "$RUNS" --section semisup_gpu --compile ${EXTRA:-})
    ;;
  gan2014)
    RUNS=$GAN_RUNS
    CMD=(python3 benchmarks/gan_table.py --only gan2014 --datasets mnist --compile --quiet --runs "$RUNS"
         --cap "gan2014=${GAN2014_STEPS:-125000}" -n 10000 --record "$OUT/gan_table.json" --out "$OUT/gan_table.md"
         ${EXTRA:-})
    ;;
  table-mnist-[0-9]|table-fashion-[0-9])
    DATASET=$([ "${PART#table-}" = "${PART#table-mnist}" ] && echo fashion-mnist || echo mnist)
    table "$DATASET" "${PART##*-}"
    ;;
  *) echo "unknown PART $PART"; exit 2 ;;
esac
echo "running: ${CMD[*]}" | tee "$OUT/command.txt"
timeout --signal=INT --kill-after=60 "${BUDGET_S:-470}" "${CMD[@]}" 2>&1 | tee "$OUT/train.txt"
echo "benchmark exited with status ${PIPESTATUS[0]}"
case "$PART" in semisup-*)
  "${CMD[@]}" --collect > /dev/null
  cp docs/records/semisup_runs.json "$OUT/"
  cp docs/experiments/semisup_gpu.md docs/img/semisup_gpu*.png "$OUT/" 2>/dev/null ;;
esac
cp docs/results.md "$OUT/"
tar czf "$OUT/runs.tgz" --exclude='*.safetensors' --exclude='*.pt' "$RUNS"
ls -la "$OUT"
