#!/usr/bin/env bash
# Issue 29's speed table (benchmarks/step_speed.py) on a lent GPU, in one device call of at most 8 minutes:
# every workload eager, captured (train.compile: torch.compile with CUDA graphs) and through a DataLoader,
# with steps/s, images/s, the GPU-busy share and peak memory. The page section and record are rewritten
# after every row, so a call stopped by its time box keeps what it measured.
#
# Here, once (data/ and wheels/ are git-ignored; the device machine sees only the checkout and has no
# registry: bring what its image lacks as wheels):
#     mkdir -p data && cp -r ../shared/data/mnist ../shared/data/fashion-mnist data/
#     pip download --only-binary=:all: --python-version 3.11 -d wheels safetensors typer rich pyyaml
# Then with the device tool:
#     run(command="bash benchmarks/device_speed.sh", carry=["data", "wheels"], timeout_s=600)
# Knobs: BUDGET_S (450), STEPS (200), DEVICE (cuda), EXTRA (more step_speed.py arguments, e.g.
# "--tiny --steps 3 --warmup 2 --profile 2" with DEVICE=cpu to try the flow on a CPU).
set -uo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH=src:benchmarks MPLBACKEND=Agg PYTHONUNBUFFERED=1 GANKIT_DATA="${GANKIT_DATA:-data}"
OUT="${OUT:-/tmp/device_speed_out}"
mkdir -p "$OUT"
[ -d wheels ] && pip install --quiet --no-index --find-links wheels safetensors typer rich pyyaml > "$OUT/pip.txt" 2>&1
python3 -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())" | tee "$OUT/env.txt"
# SIGINT: the benchmark stops where it is; every finished row is already on the page
timeout --signal=INT --kill-after=30 "${BUDGET_S:-450}" \
    python3 benchmarks/step_speed.py --device "${DEVICE:-cuda}" --steps "${STEPS:-200}" ${EXTRA:-} 2>&1 \
    | tee "$OUT/speed.txt"
echo "benchmark exited with status ${PIPESTATUS[0]}"
cp docs/speed.md docs/records/step_speed.json "$OUT/"
ls -la "$OUT"
