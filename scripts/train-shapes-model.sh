#!/usr/bin/env bash
# Trains the bundled model models/easel-shapes from scratch, seeded, in four resumable stages (about 3 h 40 min on
# 2 CPU cores); every stage checkpoints under $WORK (default $TMPDIR/easel-shapes-training) and a re-run resumes.
# Why four stages: models/easel-shapes/README.md ("How it was trained").
set -euo pipefail
cd "$(dirname "$0")/.."
WORK="${WORK:-${TMPDIR:-/tmp}/easel-shapes-training}"
MODEL=models/easel-shapes
dotnet build -c Release tools/Easel.Tools -v quiet -nologo
train() { dotnet tools/Easel.Tools/bin/Release/net10.0/Easel.Tools.dll train-shapes --template "$MODEL" "$@"; }
# Later stages train on the first stage's autoencoder and latent pool.
share_autoencoder() {
  mkdir -p "$WORK/$1"
  [ -d "$WORK/$1/vae" ] || cp -r "$WORK/epsilon/vae" "$WORK/$1/"
  [ -f "$WORK/$1/latent-pool.safetensors" ] || cp "$WORK/epsilon/latent-pool.safetensors" "$WORK/$1/"
}

# 1. Autoencoder, then UNet + text encoder with ε-prediction on SD's schedule: draws outlines, ignores position.
train --work "$WORK/epsilon" --out "$WORK/epsilon-model" --diffusion-prediction epsilon --diffusion-zero-snr false

# 2. A text encoder that keeps position: v-prediction on the zero-terminal-SNR schedule, encoder at 0.1× the UNet's
#    learning rate, stopped at 3,750 of 5,000 steps (only its text encoder is used).
share_autoencoder text-encoder
train --work "$WORK/text-encoder" --out "$WORK/text-encoder-model" --text-encoder-lr-scale 0.1 --diffusion-stop-after 3750

# 3. Stage 1's UNet with stage 2's text encoder, fine-tuned to v-prediction on the zero-SNR schedule, 30 % of every
#    batch at t ≥ 700 where the layout is decided.
share_autoencoder swap
train --work "$WORK/swap" --out "$WORK/swap-model" --start-from "$WORK/epsilon/diffusion" \
  --text-encoder-from "$WORK/text-encoder/diffusion" --refine-steps 3000 --refine-lr 2e-4 --text-encoder-lr-scale 0.1 \
  --refine-emphasis 0.3 --refine-emphasis-from 700 --refine-emphasis-to 1000

# 4. Outlines back: half of every batch at t < 500, the text encoder at 2× the UNet's learning rate.
share_autoencoder polish
train --work "$WORK/polish" --out "$MODEL" --start-from "$WORK/swap/refine" --refine-steps 1500 --refine-lr 2e-4 \
  --text-encoder-lr-scale 2 --refine-emphasis 0.5 --refine-emphasis-from 0 --refine-emphasis-to 500
