#!/usr/bin/env bash
# The GPU figures: cnn_small in PyTorch, CPU vs GPU and fp32 vs bf16, whole lifecycle (benchmarks/gpu_quick.toml), then
# the GPU-only tests, then one table: training samples/s, p50 at batch 1 and 32, peak GPU memory, GPU energy.
#
#   bash benchmarks/gpu_figures.sh [OUTDIR]        # from the project root, on a machine with one NVIDIA GPU
#
# Where Ray is not importable and .gpu/run-offline.sh exists (an offline GPU image, ../shared/GPU_CHECK.md), every
# raylife and pytest command goes through it. Writes OUTDIR/gpu.duckdb (default: results/) and prints the figures.
# A CPU without bf16 instructions cannot run the CPU-bf16 trial (raylife refuses it before Ray starts): the suite
# then runs as two submits, CPU and GPU at fp32 and the GPU at bf16, into the same database.
set -uo pipefail
out=${1:-results}
mkdir -p "$out"
db="$out/gpu.duckdb"
run=()
if ! python3 -c "import ray, duckdb" 2>/dev/null; then
    if [ -x .venv/bin/raylife ]; then PATH="$PWD/.venv/bin:$PATH"
    elif [ -f .gpu/run-offline.sh ]; then run=(bash .gpu/run-offline.sh .gpu)
    else echo "Error: neither Ray here nor the offline bundle .gpu/run-offline.sh (../shared/GPU_CHECK.md)" >&2; exit 1
    fi
fi
raylife() { "${run[@]}" python3 -m raylife "$@"; }
cpus=$(nproc)
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || { echo "Error: no NVIDIA GPU here (nvidia-smi failed)" >&2; exit 1; }

suite=benchmarks/gpu_quick.toml
if grep -qwE 'avx512_bf16|amx_bf16|bf16' /proc/cpuinfo; then
    timeout 900 "${run[@]}" python3 -m raylife submit "$suite" --db "$db" --num-cpus "$cpus" || echo "submit ended with $?"
else
    echo "this CPU has no bf16 instructions: the CPU-bf16 trial is left out"
    tmp=$(mktemp -d)
    sed 's/^precision = .*/precision = "fp32"/' "$suite" > "$tmp/gpu_quick.toml"
    sed -e 's/^precision = .*/precision = "bf16"/' -e 's/^device = .*/device = "gpu"/' "$suite" > "$tmp/gpu_quick_bf16.toml"
    for s in "$tmp/gpu_quick.toml" "$tmp/gpu_quick_bf16.toml"; do
        timeout 600 "${run[@]}" python3 -m raylife submit "$s" --db "$db" --num-cpus "$cpus" || echo "submit ended with $?"
    done
fi

"${run[@]}" python3 -m pytest -q -rs -p no:cacheprovider tests/unit/test_gpu_and_precision.py 2>&1 | tail -15

raylife query --db "$db" "
WITH lat AS (
    SELECT trial_id, max(p50_ms) FILTER (WHERE batch_size = 1) AS p50_b1_ms, max(p50_ms) FILTER (WHERE batch_size = 32) AS p50_b32_ms
    FROM latency_summary WHERE path = 'http' AND concurrency = 1 GROUP BY trial_id
), m AS (
    SELECT trial_id,
           max(value) FILTER (WHERE metric = 'train_samples_per_s') AS train_samples_per_s,
           max(value) FILTER (WHERE metric = 'train_gpu_mem_peak_mb') AS train_gpu_mem_mb,
           max(value) FILTER (WHERE metric = 'replica_gpu_allocated_peak_mb') AS replica_alloc_mb,
           max(value) FILTER (WHERE metric = 'serve_gpu_mem_peak_mb') AS serve_gpu_mem_mb,
           max(value) FILTER (WHERE metric = 'train_gpu_energy_j') AS train_gpu_j,
           max(value) FILTER (WHERE metric = 'train_gpu_util_pct') AS train_gpu_util_pct
    FROM measurements GROUP BY trial_id
)
SELECT t.name, t.status, t.params->>'precision' AS precision, round(m.train_samples_per_s) AS train_sps,
       round(lat.p50_b1_ms, 2) AS p50_b1_ms, round(lat.p50_b32_ms, 2) AS p50_b32_ms, round(m.train_gpu_mem_mb) AS train_gpu_mib,
       round(m.replica_alloc_mb) AS replica_alloc_mib, round(m.serve_gpu_mem_mb) AS serve_gpu_mib,
       round(m.train_gpu_j) AS train_gpu_j, round(m.train_gpu_util_pct) AS train_util_pct
FROM trials t LEFT JOIN m USING (trial_id) LEFT JOIN lat USING (trial_id) ORDER BY t.started_at"
