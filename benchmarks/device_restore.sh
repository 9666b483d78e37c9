#!/usr/bin/env bash
# Issue 26's paper-sized table on a lent GPU, in one device call of at most 8 minutes:
# Deep Image Prior at 512 px with the paper's recipes (dip_*: the paper's nets and iteration
# counts), 3 seeds, early-stopping rule watching, beside the classical methods on the same photos.
#
# With the device tool (nothing to carry: the photos ship inside scikit-image):
#     run(command="bash benchmarks/device_restore.sh", timeout_s=540)
# Rehearse the flow on a CPU with tiny settings (two or three minutes):
#     DEVICE=cpu SIZE=64 SEEDS=2 WORKERS=2 THREADS=1 BUDGET_S=240 SPEED_STEPS=2 \
#       SET="iterations=20 channels_down=[8,8,8,8,8] channels_up=[8,8,8,8,8] channels_skip=[4,4,4,4,4] log_every=10 es_window=5" \
#       OUT=/tmp/device_restore bash benchmarks/device_restore.sh
#
# 1. measures seconds per step of each recipe at SIZE (fp32 with TF32 convolutions, and bf16) -> speed.txt;
# 2. runs the table: fits in priority order (text mask, 50 % pixels, noise, box, x4; each photo's
#    seeds together), WORKERS fits side by side on the GPU taking them from one queue, the classical
#    methods on the CPU meanwhile; a fit starts only if the seconds per step seen so far say it ends
#    before the limit, and a hard stop (SIGINT) at BUDGET_S: a fit cut short is never reported;
# 3. renders the section and the per-fit page from whatever finished, and copies everything to $OUT:
#    results.md (the restore section), restore_fits.md, rows.jsonl, speed.txt, bench.txt, img/restore_*.png.
#    Back here, `python benchmarks/restore.py --merge <files_at>/rows.jsonl` adds its fits and strips to the page.
# Knobs: DEVICE (cuda), SIZE (512), IMAGES (astronaut,camera), CELLS (text,pixels50,noise25,box,sr4),
# SEEDS (3), WORKERS (3), BUDGET_S (400), PRECISION (fp32), SET (extra key=value overrides, space-separated),
# SPEED_STEPS (20), THREADS (torch CPU threads per process; default torch's).
set -uo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH=src MPLBACKEND=Agg PYTHONUNBUFFERED=1
OUT="${OUT:-/tmp/device_restore_out}"
mkdir -p "$OUT/img"
DEVICE="${DEVICE:-cuda}" SIZE="${SIZE:-512}" BUDGET_S="${BUDGET_S:-400}" PRECISION="${PRECISION:-fp32}"
SETS=()   # the recipes as shipped unless told otherwise: a fit with overrides is reported apart from them
[ "$PRECISION" != fp32 ] && SETS+=(--set "precision=$PRECISION")
[ -n "${THREADS:-}" ] && SETS+=(--threads "$THREADS")
for kv in ${SET:-}; do SETS+=(--set "$kv"); done
started=$(date +%s)
python3 -c "import skimage, scipy" || { echo "scikit-image is missing here: the photos and SSIM need it"; exit 2; }
python3 -c "import cv2" 2>/dev/null || echo "warning: no OpenCV here: the Telea and Navier-Stokes rows are skipped"
python3 -c "import bm3d" 2>/dev/null || echo "warning: no bm3d here: the CBM3D rows are skipped"

python3 -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), \
torch.cuda.get_device_name(0) if torch.cuda.is_available() else '')" | tee "$OUT/speed.txt"
python3 benchmarks/restore.py --speed --device "$DEVICE" --size "$SIZE" --recipes dip --speed-steps "${SPEED_STEPS:-20}" \
    "${SETS[@]}" 2>&1 | tee -a "$OUT/speed.txt"

left=$(( BUDGET_S - ($(date +%s) - started) ))
BENCH=(python3 benchmarks/restore.py --size "$SIZE" --recipes dip --device "$DEVICE" --baseline-sizes "$SIZE"
       --images "${IMAGES:-astronaut,camera}" --cells "${CELLS:-text,pixels50,noise25,box,sr4}"
       --seeds "${SEEDS:-3}" "${SETS[@]}" --rows "$OUT/rows.jsonl" --doc "$OUT/results.md"
       --experiments "$OUT/restore_fits.md" --pictures "$OUT/img")
if [ "$left" -lt 120 ]; then
    echo "only $left s of BUDGET_S left after the speed check: no fits" | tee "$OUT/bench.txt"
else
    # SIGINT, not SIGTERM: a fit stops at its next step; rows already written stay
    timeout --signal=INT --kill-after=20 "$left" "${BENCH[@]}" --workers "${WORKERS:-3}" --budget-s $(( left - 10 )) \
        2>&1 | tee "$OUT/bench.txt"
    echo "benchmark exited with status ${PIPESTATUS[0]} after $(( $(date +%s) - started )) s"
fi
"${BENCH[@]}" --render-only > /dev/null 2>&1 || echo "render failed"
ls -la "$OUT" "$OUT/img"
