#!/usr/bin/env bash
# Reproduces the models shipped in tui_denoiser/assets/: trains each recipe on the real MNIST, then exports a small
# sampling-only copy (EMA weights). Run from the repo root on a machine with a CUDA GPU:
#   DATA=path/with/MNIST/raw RUNS=runs OUT=tui_denoiser/assets scripts/train_shipped_models.sh
# The runs are launch-bound on a GPU, so they run side by side.
set -u
DATA=${DATA:?set DATA to a folder holding MNIST/raw}
RUNS=${RUNS:-runs}
OUT=${OUT:-tui_denoiser/assets}
DEVICE=${DEVICE:-cuda}
LIMIT=${LIMIT:-480}   # seconds; a run still going then is stopped by SIGTERM, which saves its checkpoint
EXTRA=${EXTRA:-}      # e.g. "--max-steps 20" for a dry run
PY=${PY:-python3}
mkdir -p "$RUNS" "$OUT"
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}

train() {  # name, args...
  local name=$1; shift
  timeout -s TERM "$LIMIT" $PY -m tui_denoiser train --data-dir "$DATA" --run-dir "$RUNS/$name" \
    --device "$DEVICE" --seed 0 "$@" $EXTRA >"$RUNS/$name.log" 2>&1
  echo "$name exit $?" >>"$RUNS/$name.log"
}

# The original recipe (the training default: 30 epochs, StepLR(10, 0.5), batch 128, lr 1e-4), and the
# seed's code as written, the yardstick.
train original --recipe original &
train seed --recipe seed &
# The best recipe (EDM preconditioning, sigma up to 80, U-Net skips, GroupNorm, EMA, label dropout).
train edm --recipe edm --bf16 &
# A wider variant of the best recipe, to compare.
train edm-wide --recipe edm --bf16 --channels 48,96,192 --res-blocks 1 &
wait
for name in original seed edm edm-wide; do
  [ -f "$RUNS/$name/last.pt" ] && $PY -m tui_denoiser export "$RUNS/$name/last.pt" "$OUT/denoiser-$name.pt"
done
