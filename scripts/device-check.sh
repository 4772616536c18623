#!/usr/bin/env bash
# The GPU check and the bench on a machine with a GPU but no Node.js, packages or network, from the
# bundle that `npm run device-bundle` writes (copied there as .devbundle/run.sh). Usage, from the
# repository root on that machine: `bash .devbundle/run.sh [check|bench|all]` (default all).
# Writes into $OUT (default ./device-out): machine.txt (GPU, driver, Node), gpu-check.json and .log
# (`npm run gpu-check -- --short`: every kernel family against its CPU oracle), bench.json and
# bench.log (the default bench's cases but the start-up and JPEG ones, without the plain-JS
# matmul; $BENCH_FILTER replaces the case filter). Each step has its own time limit, so that one
# call of the device tool (10 minutes) returns both. Exit status: the GPU check's (0 all within tolerance, 1 a check failed), or 3 when
# the bench failed after a passing check, 4 when the bundle is missing or incomplete.
set -u -o pipefail
what=${1:-all}
B=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
R=$(dirname "$B")
OUT=${OUT:-$R/device-out}
mkdir -p "$OUT"
T=${TMPDIR:-/tmp}/wgsl-nn-device
mkdir -p "$T"

for f in node.xz gpu-check.mjs.xz bench.mjs.xz node_modules/webgpu/index.js; do
  [ -e "$B/$f" ] || { echo "device-check: $B/$f is missing: rebuild with npm run device-bundle" >&2; exit 4; }
done

# Unpack Node.js, the two programs, Dawn's native module, the wasm files and the weights (again
# only when the bundle is newer), with xz or, where it is not installed, Python's lzma module.
unxz_to() {
  if command -v xz >/dev/null; then xz -dc "$1" >"$2.tmp"; else
    python3 -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"))' "$1" "$2.tmp"
  fi && mv "$2.tmp" "$2" || { echo "device-check: could not unpack $1" >&2; return 1; }
}
[ "$T/node" -nt "$B/node.xz" ] || { unxz_to "$B/node.xz" "$T/node" && chmod +x "$T/node"; } || exit 4
while IFS= read -r -d '' f; do
  [ "${f%.xz}" -nt "$f" ] || unxz_to "$f" "${f%.xz}" || exit 4
done < <(find "$B" -name '*.xz' ! -name node.xz -print0)

# The Vulkan loader (Dawn's backend on Linux) and, on NVIDIA machines, the driver's ICD.
if ! ldconfig -p | grep -q 'libvulkan\.so\.1'; then
  deb=$(ls "$B"/libvulkan1_*.deb 2>/dev/null | head -n 1)
  if [ -n "$deb" ]; then dpkg -x "$deb" / && ldconfig; else echo "device-check: no Vulkan loader on this machine and none in the bundle" >&2; fi
fi
nv=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
# (VK_ICD_FILENAMES for loaders older than 1.3.234, which do not read VK_DRIVER_FILES.)
if [ -z "${VK_DRIVER_FILES:-}" ] && [ -f "$nv" ]; then export VK_DRIVER_FILES=$nv VK_ICD_FILENAMES=$nv; fi

{
  date -u
  uname -a
  nvidia-smi -L 2>&1 || echo "no nvidia-smi"
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv 2>&1 || true
  echo "node $("$T/node" --version)"
  echo "VK_DRIVER_FILES=${VK_DRIVER_FILES:-}"
  cat "$B/manifest.json" 2>/dev/null
} >"$OUT/machine.txt" 2>&1

status=0
if [ "$what" = all ] || [ "$what" = check ]; then
  timeout 200 "$T/node" "$B/gpu-check.mjs" --short --out "$OUT/gpu-check.json" 2>&1 | tee "$OUT/gpu-check.log"
  status=$?
fi
if [ "$what" = all ] || [ "$what" = bench ]; then
  # The bench writes latest.json only when it finishes: never hand on an earlier run's as this one's.
  rm -f "$B/results/latest.json"
  WGSL_NN_WEIGHTS_DIR="$B/weights" timeout 360 "$T/node" "$B/bench.mjs" \
    --filter "${BENCH_FILTER:-core,conv,augment,mobilenet,train,transformer}" --no-js --budget 20 2>&1 | tee "$OUT/bench.log"
  b=$?
  [ -f "$B/results/latest.json" ] && cp "$B/results/latest.json" "$OUT/bench.json"
  if [ "$b" -ne 0 ] && [ "$status" -eq 0 ]; then status=3; fi
fi
echo "device-check: exit $status, files in $OUT"
exit "$status"
