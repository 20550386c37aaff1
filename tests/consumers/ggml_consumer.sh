#!/usr/bin/env bash
# The ggml adapter as an engine consumes it (CTest consumer_ggml, with
# -DWM_GGML=ON against an installed ggml): this build installed into a
# scratch prefix, tests/consumers/ggml configured against it with
# find_package(weightmap) (which finds ggml for weightmap::ggml), the ggml
# example built with warnings as errors, and run on the demo's text encoder:
# every tensor used in place from the mapping.
#   ggml_consumer.sh BUILD_DIR GGML_PACKAGE_DIR WORK_DIR
set -euo pipefail
build="${1:?build dir}"
ggml_dir="${2:?ggml package dir}"
work="${3:?work dir}"
cmake="${CMAKE:-cmake}"
here="$(cd "$(dirname "$0")" && pwd)"
rm -rf "$work"
mkdir -p "$work"
"$cmake" --install "$build" --prefix "$work/prefix" >/dev/null
"$cmake" -S "$here/ggml" -B "$work/consumer" -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$work/prefix" \
  -Dggml_DIR="$ggml_dir" >/dev/null
"$cmake" --build "$work/consumer" >/dev/null
"$work/prefix/bin/weightmap" demo --dir "$work/demo" >/dev/null
out=$("$work/consumer/ggml_example" "$work/demo/text_encoder.gguf")
echo "$out"
grep -Eq '^([0-9]+) tensors, \1 used in place from the mapping, 1 ggml buffers$' <<<"$out" ||
  { echo "FAIL: expected every tensor used in place from the mapping, one ggml buffer"; exit 1; }
rm -rf "$work"
echo "consumer ok"
