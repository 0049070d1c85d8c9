#!/usr/bin/env bash
# The GPU rows of the benchmarks (issues 11, 13 and 14), in one run, on a machine with an NVIDIA GPU.
#
#   benchmarks/gpu_rows.sh OUT_DIR [SECONDS] [PEAK_TFLOPS]
#
# Three benchmarks run at the same time on the one GPU (the models are small: none fills it; each
# JAX process takes GPU memory as it needs it, XLA_PYTHON_CLIENT_PREALLOCATE=false), each under
# `timeout SECONDS` (default 480):
#   - training.py --runs "" --gpu: nanoGPT's shakespeare-char configuration on JAX in bfloat16,
#     with model FLOPs utilisation against PEAK_TFLOPS (default 989: the H100/H200 dense bfloat16
#     peak of NVIDIA's data sheet; an A100's is 312);
#   - finetuning.py --backend "$backend": every fine-tuning stage (key "jax-gpu");
#   - alignment.py --backend "$backend": every alignment stage (key "jax-gpu").
# The fine-tuning and alignment benchmarks write their results after each stage, so a stage that
# the time limit cuts loses only itself. Results and logs go to OUT_DIR; merge the "jax-gpu" runs
# into course/results/*.json with the benchmarks' write_result (see docs/benchmarks.md).
# If Keras cannot run on JAX there (a JAX release newer than Keras knows), the fine-tuning and
# alignment rows run on PyTorch instead (GPU_BACKEND=torch forces it); machine.txt says which.
# The course's data must be findable: LLM_KERAS_DATA, a folder holding tinyshakespeare.txt and
# shakespeare_gutenberg.txt (the classification stages read the second).
set -uo pipefail
cd "$(dirname "$0")/.."
out=${1:?give the output folder}
limit=${2:-480}
peak=${3:-989}
mkdir -p "$out"
export XLA_PYTHON_CLIENT_PREALLOCATE=false TF_CPP_MIN_LOG_LEVEL=3 PYTHONUNBUFFERED=1
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
python=${PYTHON:-python3}
{
  date -u
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
  "$python" -c "import keras, jax; print('keras', keras.version(), 'jax', jax.__version__, jax.devices())"
} >"$out/machine.txt" 2>&1
backend=${GPU_BACKEND:-jax}
if ! KERAS_BACKEND=jax "$python" -c "import keras; keras.ops.matmul(keras.ops.ones((2, 2)), keras.ops.ones((2, 2)))" \
  >>"$out/machine.txt" 2>&1; then
  backend=torch
fi
echo "fine-tuning and alignment rows on: $backend" >>"$out/machine.txt"
timeout "$limit" "$python" benchmarks/training.py --runs "" --gpu --out "$out/training" \
  --peak-tflops "$peak" >"$out/training.log" 2>&1 &
timeout "$limit" "$python" benchmarks/finetuning.py --backend "$backend" \
  --out "$out/finetuning.json" >"$out/finetuning.log" 2>&1 &
timeout "$limit" "$python" benchmarks/alignment.py --backend "$backend" --cache "$out/alignment-cache" \
  --out "$out/alignment.json" >"$out/alignment.log" 2>&1 &
wait
rm -rf "$out/alignment-cache"
