#!/usr/bin/env bash
# Builds the Python wheel the way a user's `pip wheel .` does (with the
# venv's pip, no build isolation so nothing is downloaded for the build;
# warnings as errors),
# installs it into a fresh virtual environment with only its runtime
# dependencies (numpy, ml_dtypes at the versions of
# scripts/python-requirements.txt), and runs a smoke check there: import,
# open a small safetensors file written by hand, compare a tensor. Checks
# that the wheel holds the package and nothing else (no tests, CLI, benches).
#
#   scripts/check-python-wheel.sh [--clean]   (prints the time each step took)
#
# The build directory is pyproject.toml's (build-wheel/ in the repository,
# ignored by git), so a second run rebuilds only what changed, as a second
# `pip wheel .` does; --clean removes it first (a from-scratch build).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
python=$("$root/scripts/python-env.sh" | tail -1)
if [[ ${1:-} == --clean ]]; then rm -rf "$root/build-wheel"; fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
t0=$SECONDS

# Warnings are errors here as in every CI build; with the compiler a plain
# CMake build picks (c++ unless CXX says otherwise: scikit-build-core would
# pass Python's sysconfig CXX, x86_64-linux-gnu-g++ on Debian, the same GCC
# under a name ccache counts as another compiler), the library's objects
# have the release build's exact flags, and with ccache (scripts/test.sh
# points it at its own cache) they come from that build.
export CXX="${CXX:-c++}"
defines=(--config-settings=cmake.define.WM_WERROR=ON)
if command -v ccache >/dev/null; then
  defines+=(--config-settings=cmake.define.CMAKE_CXX_COMPILER_LAUNCHER=ccache)
fi
"$python" -m pip wheel --disable-pip-version-check --no-build-isolation --no-deps -q \
  "${defines[@]}" -w "$work/wheels" "$root"
wheel=$(ls "$work"/wheels/weightmap-*.whl)
echo "built $(basename "$wheel") in $((SECONDS - t0)) s"

# The wheel: the package's .py files and the extension, nothing else.
"$python" - "$wheel" <<'PY'
import sys, zipfile
names = [n for n in zipfile.ZipFile(sys.argv[1]).namelist() if ".dist-info/" not in n]
assert any(n.startswith("weightmap/_native.") and n.endswith(".so") for n in names), names
for required in ("weightmap/__init__.py", "weightmap/_model.py", "weightmap/safe_open.py", "weightmap/bench.py"):
    assert required in names, f"{required} missing from the wheel: {names}"
stray = [n for n in names if not n.startswith("weightmap/")]
assert not stray, f"the wheel holds more than the package: {stray}"
print("wheel contents:", " ".join(sorted(names)))
PY

t1=$SECONDS
/usr/bin/python3 -m venv "$work/venv"
grep -E '^(numpy|ml_dtypes)==' "$root/scripts/python-requirements.txt" > "$work/runtime.txt"
"$work/venv/bin/python" -m pip install --disable-pip-version-check -q -r "$work/runtime.txt"
"$work/venv/bin/python" -m pip install --disable-pip-version-check -q --no-deps "$wheel"
echo "installed into a fresh venv in $((SECONDS - t1)) s"

cd "$work"  # not the source tree: the installed package must be the one imported
"$work/venv/bin/python" - <<'PY'
import json, struct
import numpy as np
import weightmap

assert "site-packages" in weightmap.__file__, weightmap.__file__
values = np.arange(12, dtype=np.float32).reshape(3, 4)
header = json.dumps({"w": {"dtype": "F32", "shape": [3, 4], "data_offsets": [0, values.nbytes]},
                     "__metadata__": {"source": "smoke"}}).encode()
header += b" " * (-len(header) % 8)
with open("smoke.safetensors", "wb") as f:
    f.write(struct.pack("<Q", len(header)) + header + values.tobytes())
with weightmap.open("smoke.safetensors") as m:
    w = m["w"]
    assert np.array_equal(w, values) and not w.flags.writeable and m.info("w").zero_copy
    assert m.metadata() == {"source": "smoke"}
with weightmap.safe_open("smoke.safetensors", framework="np") as f:
    assert np.array_equal(f.get_tensor("w"), values)
print(f"smoke check passed: weightmap {weightmap.__version__} from {weightmap.__file__}")
PY
echo "total $((SECONDS - t0)) s"
