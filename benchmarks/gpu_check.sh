#!/usr/bin/env bash
# One prepared GPU check, at most ~9 minutes: run it when a CUDA machine is available.
#   bash benchmarks/gpu_check.sh            # from the repository root; needs $DEEPFEAT_DATA (MNIST) or ../shared/data
# 1. core benchmark, quick (bf16 autocast on CUDA is deepfeat's default there): overhead vs hand loop, accuracy
# 2. GAN speed check: one DCGAN epoch through deepfeat fit vs the hand-written loop, back to back
# 3. a 1-GPU torchrun fit of the digits CNN (the DDP path end to end)
# 4. an fp16 fit of the digits CNN: float16 autocast with its loss scaler (bf16 is covered by 1.)
# 5. step time of the digits CNN, a ResNet-18 (224x224) and InceptionTime at fp32 / bf16 / fp16, GPU utilization,
#    and the shard pipeline's images/s against the device's ResNet-18 rate (benchmarks/gpu_steps.py)
# 6. non-finite losses under bf16 and fp16: dropped steps counted, weights finite, no host sync per step (bf16)
# On a machine without CUDA it says so and exits 0 without running anything (tested on the CPU).
#   DRY=1 bash benchmarks/gpu_check.sh      # or --dry: every step on the CPU at tiny sizes (~1-2 min), 1. and 2.
#                                           # left out; checks the script end to end where no GPU is at hand
set -u
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
export PYTHONPATH="src${PYTHONPATH:+:$PYTHONPATH}"
export DEEPFEAT_DATA=${DEEPFEAT_DATA:-$(cd .. && pwd)/shared/data}
OUT=${OUT:-benchmarks/results}
DRY=${DRY:-0}
[ "${1:-}" = "--dry" ] && DRY=1
mkdir -p "$OUT"
if [ "$DRY" = 1 ]; then
    export CUDA_VISIBLE_DEVICES="" DEEPFEAT_BENCH_RESULTS="$OUT"
    SUMMARY="$OUT/gpu_check_dry.txt"
    QUICK=(--set training.max_steps=2 --set training.epochs=1 --set evaluation.protocol=[] --set evaluation.embedding_plots=[])
    echo "gpu_check: dry run on the CPU (tiny sizes; no GPU measured)" | tee "$SUMMARY"
else
    if ! "$PY" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)"; then
        echo "gpu_check: no CUDA device visible to torch ($("$PY" -c 'import torch; print(torch.__version__)')): nothing to check on this machine."
        exit 0
    fi
    SUMMARY="$OUT/gpu_check.txt"
    QUICK=(--set training.epochs=2)
    "$PY" -c "import torch; p = torch.cuda.get_device_properties(0); print(f'gpu_check: {p.name}, {p.total_memory / 2**30:.0f} GiB, bf16 {torch.cuda.is_bf16_supported()}')" | tee "$SUMMARY"
fi
status=0
step() {  # step NAME SECONDS CMD...: run with a time limit, keep going on failure, log to the summary
    local name=$1 limit=$2; shift 2
    local t0=$(date +%s)
    timeout "$limit" "$@" 2>&1 | tail -25 | tee -a "$SUMMARY"
    local rc=${PIPESTATUS[0]}
    echo "gpu_check: $name rc=$rc in $(( $(date +%s) - t0 )) s" | tee -a "$SUMMARY"
    [ "$rc" = 0 ] || status=1
}
if [ "$DRY" != 1 ]; then
    step "core benchmark (quick, CUDA bf16)" 240 "$PY" benchmarks/bench_core.py --quick
    step "GAN speed (1 DCGAN epoch vs hand loop)" 150 "$PY" benchmarks/bench_gan.py --speed-only --threads 4
fi
step "step times fp32/bf16/fp16 and the shard pipeline" 150 "$PY" benchmarks/gpu_steps.py $([ "$DRY" = 1 ] && echo --dry)
RUN=$(mktemp -d)/ddp
step "torchrun 1-process fit (digits CNN; nccl on a GPU)" 90 "$PY" -m torch.distributed.run --standalone --nproc-per-node 1 \
    -m deepfeat.cli fit -c examples/configs/digits_cnn.yaml --out "$RUN" "${QUICK[@]}" --set training.progress=line \
    --set logging.plots=false --set logging.report=false
[ -f "$RUN/results.json" ] && "$PY" -c "import json, sys; r = json.load(open(sys.argv[1])); print('gpu_check: torchrun fit', r['status'], r.get('test'))" "$RUN/results.json" | tee -a "$SUMMARY"
RUN16=$(mktemp -d)/fp16
step "fp16 fit (digits CNN, 2 epochs, loss scaler)" 60 "$PY" -m deepfeat.cli fit -c examples/configs/digits_cnn.yaml \
    --out "$RUN16" "${QUICK[@]}" --set training.precision=fp16 --set training.progress=line \
    --set logging.plots=false --set logging.report=false
[ -f "$RUN16/results.json" ] && "$PY" -c "import json, sys; r = json.load(open(sys.argv[1])); f = r['fit']; print('gpu_check: fp16 fit', r['status'], f['precision'], 'skipped steps', f['skipped_steps'], r.get('test'))" "$RUN16/results.json" | tee -a "$SUMMARY"
step "non-finite losses (every 4th NaN; syncs must not grow with steps)" 60 "$PY" benchmarks/nonfinite_check.py
echo "gpu_check: done (status $status); summary in $SUMMARY"
exit $status
