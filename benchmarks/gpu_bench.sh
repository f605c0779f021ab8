#!/usr/bin/env bash
# The long benchmarks on a many-core CUDA machine, in parallel, within one time budget (issues 18 and 20):
#   bash benchmarks/gpu_bench.sh            # from the repository root
# - bench_fsdd.py: official split + leave-one-speaker-out over all 6 speakers, the shipped fsdd_cnn.yaml and,
#   as an ablation, the same without per-utterance CMVN and speed perturbation;
# - bench_timeseries.py --full: 8 aeon problems x 3 encoders x 3 seeds against ROCKET, MiniRocket, 1-NN.
# Every run is a process with 1 CPU thread; deepfeat's runs share the GPU. Results go to $DEEPFEAT_BENCH_RESULTS
# (default benchmarks/results). Optional: wheels in .whl/ (installed to /tmp/site, for a machine without the
# extras), data in $DEEPFEAT_DATA (default ../shared/data, or .gpudata/ when present).
# SMOKE=1 runs a tiny version of everything (minutes on a laptop CPU) to check the script itself.
set -u
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ "${WHEELS:-1}" = 1 ] && [ -d .whl ] && ls .whl/*.whl >/dev/null 2>&1; then
    "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
    export PYTHONPATH="/tmp/site${PYTHONPATH:+:$PYTHONPATH}"
fi
export PYTHONPATH="src${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
[ -d .gpudata ] && export DEEPFEAT_DATA=${DEEPFEAT_DATA:-$(pwd)/.gpudata}
export DEEPFEAT_BENCH_RESULTS=${DEEPFEAT_BENCH_RESULTS:-benchmarks/results}
mkdir -p "$DEEPFEAT_BENCH_RESULTS"
LOG=$DEEPFEAT_BENCH_RESULTS
DEADLINE=${DEADLINE:-420}
FSDD_JOBS=${FSDD_JOBS:-7}
TS_JOBS=${TS_JOBS:-9}
"$PY" -c "import torch, deepfeat, aeon, soundfile, torchinfo, torchaudio; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else '', 'aeon', aeon.__version__)" || exit 1
if [ "${SMOKE:-0}" = 1 ]; then
    FSDD_ARGS=(--quick --set training.max_steps=2); TS_ARGS=(--problems ItalyPowerDemand --encoders fcn --seeds 1 --epochs 1)
else
    FSDD_ARGS=(); TS_ARGS=(--full)
fi
t0=$(date +%s)
"$PY" benchmarks/bench_fsdd.py --jobs "$FSDD_JOBS" --deadline "$DEADLINE" "${FSDD_ARGS[@]}" \
    --variant "plain=encoder.frontend.cmvn=none;encoder.augment.speed=1.0" >"$LOG/fsdd.log" 2>&1 &
fsdd=$!
"$PY" benchmarks/bench_timeseries.py --jobs "$TS_JOBS" --deadline "$DEADLINE" "${TS_ARGS[@]}" >"$LOG/timeseries.log" 2>&1
echo "timeseries rc=$? after $(( $(date +%s) - t0 )) s"
wait $fsdd
echo "fsdd rc=$? after $(( $(date +%s) - t0 )) s"
tail -15 "$LOG/fsdd.log"; tail -16 "$LOG/timeseries.log"
