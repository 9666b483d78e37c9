#!/usr/bin/env bash
# Issue 4's target run (MNIST, 100 labels, seeds 0-4) on a lent GPU, in one device call: by default
# the ssgan_mnist100_pi recipe (the fast recipe plus Pi-model consistency and the running class-balance
# term: our best robust CPU runs) for 150 epochs (TASK=mnist100 EPOCHS=300: the paper's settings;
# TASK=mnist100-fast: the Bad-GAN Adam settings alone).
#
# Here, once (data/ is git-ignored; the device machine sees only the checkout):
#     mkdir -p data && cp -r ../shared/data/mnist data/
# Then with the device tool:
#     run(command="bash benchmarks/device_semisup.sh", carry=["data"], timeout_s=600)
#
# Trains the five seeds side by side in one process (losses compiled, CUDA graphs), stops
# cleanly after BUDGET_S seconds whatever the epoch (a stopped run is listed as unfinished,
# never as a result), writes the semisup_gpu section of docs/results.md, and copies to $OUT
# what can come back: the doc and its record, the curve picture, and the runs' small files (no checkpoints:
# a 5-seed checkpoint is 165 MB, over the 16 MB a returned file may have).
# Knobs: TASK (mnist100-pi), EPOCHS (150), BUDGET_S (470), DEVICE (cuda), GANKIT_DATA (data).
set -uo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH=src MPLBACKEND=Agg PYTHONUNBUFFERED=1 GANKIT_DATA="${GANKIT_DATA:-data}"
OUT="${OUT:-/tmp/device_semisup_out}"
mkdir -p "$OUT"
DEVICE="${DEVICE:-cuda}"
RUNS=benchmarks/runs/semisup_gpu
BENCH=(python3 benchmarks/semisup_mnist.py --tasks "${TASK:-mnist100-pi}" --methods ssgan --device "$DEVICE"
       --seeds 5 --parallel-seeds 5 --epochs "${EPOCHS:-150}" --runs "$RUNS" --section semisup_gpu)

python3 -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())"
python3 benchmarks/semisup_speed.py --device "$DEVICE" --steps 50 2>&1 | tee "$OUT/speed.txt"
# SIGINT, not SIGTERM: the trainer saves a checkpoint and returns on Ctrl-C.
timeout --signal=INT --kill-after=60 "${BUDGET_S:-470}" "${BENCH[@]}" --compile --progress 2>&1 \
    | tee "$OUT/train.txt"
echo "training exited with status ${PIPESTATUS[0]}"
"${BENCH[@]}" --collect > /dev/null
tar czf "$OUT/runs.tgz" --exclude='*.safetensors' --exclude='*.pt' "$RUNS"
cp docs/results.md docs/records/semisup_runs.json "$OUT/"
cp docs/experiments/semisup_gpu.md "$OUT/" 2>/dev/null || true
cp docs/img/semisup_gpu*.png "$OUT/" 2>/dev/null || true
ls -la "$OUT"
