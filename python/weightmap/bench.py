"""`python -m weightmap.bench MODEL`: weightmap against safetensors and torch.load from Python.

Each measurement runs in a fresh process (this python, `-m weightmap.bench --child`),
cold (the files evicted from the page cache first) and warm (read in first), on the same
file, and the table gives medians over --runs. A reader's work is: open, then
tensor by tensor take it (all are held to the end, as a model holds its weights) and sum it,
all timed together; imports are not timed. `--sum bytes` (the default) sums each tensor's bytes as
64-bit words modulo 2**64, at memory speed, so the times show what reading costs;
`--sum values` sums the values in float64 (integers in int64/uint64), which on F16 runs at about
1 GB/s and makes every reader about as slow as the summation. Every reader that read the same
bytes prints the same sum.

Readers: weightmap.open + model[name]; safetensors.safe_open(framework="np") +
get_tensor (a .safetensors MODEL only); torch.load(mmap=True, weights_only=True) on a .pt
of the same tensors written beside MODEL for the run and removed after (when torch
imports).

`python -m weightmap.bench --make PATH --size-mib N` writes a test model: a safetensors
file of Llama-shaped F16 matrices and F32 norms (a few hundred tensors) of about N MiB.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from typing import Any

READERS = ("weightmap", "safetensors", "torch")
MODES = ("cold", "warm")


# ---- the child: one reader, one measurement ------------------------------------------

def _proc_status_kib(field: str) -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"/proc/self/status has no {field}")


def tensor_sum(array: Any) -> float:
    """The one summation every reader uses: float64 for floating types (ml_dtypes' too),
    64-bit integers for integers and raw quantised blocks, a count for booleans."""
    import numpy as np  # noqa: PLC0415 (the parent process does not need numpy)

    kind = array.dtype.kind
    if kind == "b":
        return float(np.count_nonzero(array))
    if kind in "iu":
        return float(np.sum(array, dtype=np.int64 if kind == "i" else np.uint64))
    if kind == "c":
        return float(np.sum(array, dtype=np.complex128).real)
    return float(np.sum(array, dtype=np.float64))


def tensor_checksum(array: Any) -> int:
    """The tensor's bytes as little-endian 64-bit words summed modulo 2**64 (a tail of under
    8 bytes added byte by byte): every byte read once, at memory speed."""
    import numpy as np  # noqa: PLC0415

    raw = np.ascontiguousarray(array).reshape(-1).view(np.uint8)
    whole = raw.size // 8 * 8
    total = int(raw[:whole].view("<u8").sum(dtype=np.uint64)) if whole else 0
    return (total + int(raw[whole:].sum(dtype=np.uint64))) % 2**64


SUMS = {"bytes": tensor_checksum, "values": tensor_sum}


def add_sums(kind: str, sums: dict[str, Any]) -> Any:
    """The model's sum from the per-tensor ones, in name order: exact for both kinds."""
    if kind == "bytes":
        return sum(sums.values()) % 2**64
    return math.fsum(sums[name] for name in sorted(sums))


@contextlib.contextmanager
def _open_weightmap(path: str) -> Iterator[tuple[list[str], Any]]:
    import weightmap  # noqa: PLC0415

    model = weightmap.open(path)
    yield model.keys(), model.__getitem__


@contextlib.contextmanager
def _open_safetensors(path: str) -> Iterator[tuple[list[str], Any]]:
    from safetensors import safe_open  # noqa: PLC0415

    with safe_open(path, framework="np") as f:
        yield f.keys(), f.get_tensor


def _torch_as_numpy(tensor: Any) -> Any:
    """A numpy view of a CPU torch tensor, ml_dtypes for what numpy lacks."""
    import torch  # noqa: PLC0415

    special = {torch.bfloat16: (torch.int16, "bfloat16")}
    for name in ("float8_e4m3fn", "float8_e5m2"):
        if hasattr(torch, name):
            special[getattr(torch, name)] = (torch.uint8, name)
    if tensor.dtype not in special:
        return tensor.numpy()
    import ml_dtypes  # noqa: PLC0415

    carrier, numpy_name = special[tensor.dtype]
    return tensor.view(carrier).numpy().view(getattr(ml_dtypes, numpy_name))


@contextlib.contextmanager
def _open_torch(path: str) -> Iterator[tuple[list[str], Any]]:
    import torch  # noqa: PLC0415

    state = torch.load(path, mmap=True, weights_only=True, map_location="cpu")
    yield list(state), lambda name: _torch_as_numpy(state[name])


_OPENERS = {"weightmap": _open_weightmap, "safetensors": _open_safetensors, "torch": _open_torch}
_IMPORTS = {"weightmap": ("weightmap",), "safetensors": ("safetensors",), "torch": ("torch", "ml_dtypes")}


def run_child(reader: str, path: str, sum_kind: str = "bytes") -> dict[str, Any]:
    """One measurement in this process; the parent starts a fresh one for each.

    Tensor by tensor, as an engine consumes weights: take it (and keep it, as a model
    holds its weights), then sum it, so a reader that reads ahead overlaps its I/O
    with the sums.
    """
    import importlib  # noqa: PLC0415

    import numpy  # noqa: F401, PLC0415 (imported before timing, as every reader needs it)

    started = time.perf_counter()
    for module in _IMPORTS[reader]:
        importlib.import_module(module)
    import_s = time.perf_counter() - started
    anon_before = _proc_status_kib("RssAnon")
    arrays: dict[str, Any] = {}
    sums: dict[str, Any] = {}
    summation = SUMS[sum_kind]
    started = time.perf_counter()
    with _OPENERS[reader](path) as (names, take):
        take_s = time.perf_counter() - started
        for name in names:
            before = time.perf_counter()
            arrays[name] = take(name)
            take_s += time.perf_counter() - before
            sums[name] = summation(arrays[name])
        seconds = time.perf_counter() - started
        result = {
            "reader": reader,
            "seconds": seconds,
            "take_seconds": take_s,  # open + the calls that give each tensor, not the sums
            "import_seconds": import_s,
            "tensors": len(arrays),
            "bytes": sum(int(array.nbytes) for array in arrays.values()),
            "sum": add_sums(sum_kind, sums),
            "sum_kind": sum_kind,
            "rss_anon_before_kib": anon_before,
            "rss_anon_kib": _proc_status_kib("RssAnon"),  # with every tensor still held
            "rss_file_kib": _proc_status_kib("RssFile"),
            "peak_rss_kib": _proc_status_kib("VmHWM"),
            "ru_maxrss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        }
    del arrays
    return result


# ---- the parent: page cache, fresh processes, medians --------------------------------

def _page_cache(action: str, paths: list[str]) -> list[dict[str, Any]]:
    import weightmap  # noqa: PLC0415

    return weightmap.page_cache(action, paths)


def _flush(paths: list[str]) -> None:
    """Write back dirty pages (a model just written): eviction drops only clean ones."""
    # A model path (a folder, an index) may stand for several files.
    for path in [f["path"] for f in _page_cache("status", paths)]:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _prepare_cache(mode: str, paths: list[str]) -> dict[str, Any]:
    """Evict (cold) or read in (warm) the files; report what is cached after."""
    if mode == "cold":
        _flush(paths)
    files = _page_cache("evict" if mode == "cold" else "warm", paths)
    total = sum(int(f["bytes"]) for f in files)
    resident = sum(int(f["resident_bytes"]) for f in files)
    fraction = resident / total if total else 0.0
    ok = fraction <= 0.01 if mode == "cold" else fraction >= 0.99
    return {"resident_fraction": fraction, "ok": ok}


def _measure(reader: str, path: str, sum_kind: str) -> dict[str, Any]:
    command = [sys.executable, "-m", "weightmap.bench", "--child", reader, path, "--sum", sum_kind]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{reader} run on {path} failed (exit {done.returncode}):\n{done.stderr.strip()}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _torch_importable() -> bool:
    probe = subprocess.run([sys.executable, "-c", "import torch"], capture_output=True, check=False)
    return probe.returncode == 0


@contextlib.contextmanager
def _torch_copy(model: str) -> Iterator[str]:
    """A .pt of the model's tensors beside it (same disk), removed afterwards."""
    folder = os.path.dirname(os.path.abspath(model))
    handle, path = tempfile.mkstemp(prefix=".weightmap-bench-", suffix=".pt", dir=folder)
    os.close(handle)
    try:
        script = ("import sys, torch, numpy as np, weightmap\n"
                  "from weightmap.bench import _numpy_as_torch\n"
                  "m = weightmap.open(sys.argv[1])\n"
                  "torch.save({n: _numpy_as_torch(np.array(m[n])) for n in m.keys()}, sys.argv[2])\n")
        subprocess.run([sys.executable, "-c", script, model, path], check=True)
        yield path
    finally:
        os.unlink(path)


def _numpy_as_torch(array: Any) -> Any:
    """A torch tensor with the bytes of a numpy array, ml_dtypes' types included."""
    import torch  # noqa: PLC0415

    from .safe_open import _to_torch  # noqa: PLC0415 (one dtype table for numpy -> torch)

    return _to_torch(torch, array, "cpu")


def _median_row(mode: str, reader: str, runs: list[dict[str, Any]], caches: list[dict[str, Any]]) -> dict[str, Any]:
    def median(key: str) -> float:
        return statistics.median(run[key] for run in runs)

    return {
        "mode": mode,
        "reader": reader,
        "runs": len(runs),
        "seconds": median("seconds"),
        "seconds_all": [run["seconds"] for run in runs],
        "take_seconds": median("take_seconds"),
        "peak_rss_mib": median("peak_rss_kib") / 1024,
        "rss_anon_mib": median("rss_anon_kib") / 1024,
        "rss_anon_growth_mib": statistics.median(r["rss_anon_kib"] - r["rss_anon_before_kib"] for r in runs) / 1024,
        "tensors": runs[0]["tensors"],
        "bytes": runs[0]["bytes"],
        "sums": sorted({run["sum"] for run in runs}),
        "page_cache_ok": all(c["ok"] for c in caches),
        "resident_fraction_before": max(c["resident_fraction"] for c in caches),
    }


def _ratios(rows: list[dict[str, Any]]) -> dict[str, Any]:
    by = {(row["mode"], row["reader"]): row for row in rows}
    out: dict[str, Any] = {}
    for mode in MODES:
        wm = by.get((mode, "weightmap"))
        st = by.get((mode, "safetensors"))
        others = [row for (m, reader), row in by.items() if m == mode and reader != "weightmap"]
        if wm and st:
            out[f"{mode}_time_weightmap_over_safetensors"] = wm["seconds"] / st["seconds"]
            out[f"{mode}_take_time_weightmap_over_safetensors"] = wm["take_seconds"] / st["take_seconds"]
            out[f"{mode}_anon_growth_weightmap_over_safetensors"] = (
                wm["rss_anon_growth_mib"] / st["rss_anon_growth_mib"] if st["rss_anon_growth_mib"] > 0 else None)
        if wm and others:
            slowest = max(others, key=lambda row: row["seconds"])
            out[f"{mode}_time_weightmap_over_slowest_other"] = wm["seconds"] / slowest["seconds"]
    targets: dict[str, Any] = {}
    if "warm_time_weightmap_over_safetensors" in out:
        targets["warm time <= 0.5x safetensors"] = out["warm_time_weightmap_over_safetensors"] <= 0.5
        anon = out["warm_anon_growth_weightmap_over_safetensors"]
        targets["warm RssAnon growth < 1% of safetensors'"] = anon is not None and anon < 0.01
    if "cold_time_weightmap_over_slowest_other" in out:
        targets["cold time <= 1.1x the slower other reader"] = out["cold_time_weightmap_over_slowest_other"] <= 1.1
    out["targets_met"] = targets
    return out


def run_bench(model: str, runs: int, log: Any, sum_kind: str = "bytes") -> dict[str, Any]:
    model = os.path.abspath(model)
    load_before = os.getloadavg()[0]
    readers = ["weightmap"]
    skipped: dict[str, str] = {}
    if model.endswith(".safetensors") and os.path.isfile(model):
        readers.append("safetensors")
    else:
        skipped["safetensors"] = "MODEL is not a single .safetensors file"
    with contextlib.ExitStack() as stack:
        paths = {"weightmap": model, "safetensors": model}
        if _torch_importable():
            paths["torch"] = stack.enter_context(_torch_copy(model))
            readers.append("torch")
        else:
            skipped["torch"] = "torch is not installed: torch.load(mmap=True) not measured"
        measured: dict[tuple[str, str], list[dict[str, Any]]] = {}
        caches: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for mode in MODES:
            for run in range(runs):
                # Readers alternate within a run so that drift on a shared machine hits all alike.
                for reader in readers:
                    cache = _prepare_cache(mode, [paths[reader]])
                    if not cache["ok"]:
                        log(f"warning: {mode} run {run + 1} of {reader}: {cache['resident_fraction']:.1%} of the "
                            f"file cached before the run ({'eviction' if mode == 'cold' else 'warm-up'} did not work)")
                    measured.setdefault((mode, reader), []).append(_measure(reader, paths[reader], sum_kind))
                    caches.setdefault((mode, reader), []).append(cache)
    rows = [_median_row(mode, reader, measured[(mode, reader)], caches[(mode, reader)])
            for mode in MODES for reader in readers]
    sums = {s for row in rows for s in row["sums"]}
    return {
        "model": model,
        "model_bytes": os.path.getsize(model) if os.path.isfile(model) else None,
        "runs": runs,
        "sum": sum_kind,
        "python": sys.version.split()[0],
        "cpus": os.cpu_count(),
        "load_average": [load_before, os.getloadavg()[0]],  # 1-minute, before and after: others' work skews times
        "rows": rows,
        "skipped": skipped,
        "sums_agree": len(sums) == 1,
        "ratios": _ratios(rows),
    }


def markdown(result: dict[str, Any]) -> str:
    size = f", {result['model_bytes'] / 2**20:.0f} MiB" if result["model_bytes"] else ""
    lines = [
        f"Model: `{os.path.basename(result['model'])}`{size}; median of {result['runs']} run(s), "
        f"each in a fresh process; {result['cpus']} CPUs, load average {result['load_average'][0]:.1f} "
        f"before and {result['load_average'][1]:.1f} after; sum of each tensor's {result['sum']}.",
        "",
        "| cache | reader | time (s) | of which open + take (s) | peak RSS (MiB) | RssAnon (MiB) "
        "| RssAnon growth (MiB) | sum |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for row in result["rows"]:
        note = "" if row["page_cache_ok"] else " (page cache not as asked)"
        sums = ", ".join(f"{s:.9g}" if isinstance(s, float) else str(s) for s in row["sums"])
        lines.append(f"| {row['mode']}{note} | {row['reader']} | {row['seconds']:.3f} | {row['take_seconds']:.3f} "
                     f"| {row['peak_rss_mib']:.0f} "
                     f"| {row['rss_anon_mib']:.0f} | {row['rss_anon_growth_mib']:.1f} | {sums} |")
    lines.append("")
    lines.append("- peak RSS counts the mapped file pages a reader touched (page cache, shared); "
                 "RssAnon is the process's own memory, measured with every tensor still held")
    ratios = result["ratios"]
    for key, value in ratios.items():
        if key != "targets_met":
            lines.append(f"- {key.replace('_', ' ')}: " + ("n/a" if value is None else f"{value:.4f}"))
    for target, met in ratios["targets_met"].items():
        lines.append(f"- target {target}: {'met' if met else 'MISSED'}")
    lines.append(f"- every reader's sum agrees: {'yes' if result['sums_agree'] else 'NO'}")
    for reader, why in result["skipped"].items():
        lines.append(f"- {reader} skipped: {why}")
    return "\n".join(lines)


# ---- a test model --------------------------------------------------------------------

def _layer_shapes(hidden: int) -> list[tuple[str, tuple[int, ...], str]]:
    ffn = hidden * 11008 // 4096
    return [("attn_norm.weight", (hidden,), "float32"), ("q_proj.weight", (hidden, hidden), "float16"),
            ("k_proj.weight", (hidden, hidden), "float16"), ("v_proj.weight", (hidden, hidden), "float16"),
            ("o_proj.weight", (hidden, hidden), "float16"), ("ffn_norm.weight", (hidden,), "float32"),
            ("gate_proj.weight", (ffn, hidden), "float16"), ("up_proj.weight", (ffn, hidden), "float16"),
            ("down_proj.weight", (hidden, ffn), "float16")]


def model_shapes(size_bytes: int, layers: int = 32) -> list[tuple[str, tuple[int, ...], str]]:
    """Llama-shaped tensors (32 layers, hidden a multiple of 64) of at most about size_bytes."""
    def total(shapes: list[tuple[str, tuple[int, ...], str]]) -> int:
        return sum(math.prod(shape) * (4 if dtype == "float32" else 2) for _, shape, dtype in shapes)

    def build(hidden: int) -> list[tuple[str, tuple[int, ...], str]]:
        shapes = [("model.embed_tokens.weight", (4 * hidden, hidden), "float16")]
        for layer in range(layers):
            shapes += [(f"model.layers.{layer}.{name}", shape, dtype) for name, shape, dtype in _layer_shapes(hidden)]
        return shapes + [("model.norm.weight", (hidden,), "float32")]

    hidden = 64
    while total(build(hidden + 64)) <= size_bytes:
        hidden += 64
    shapes = build(hidden)
    # The embedding's rows take up what the hidden size's steps of 64 leave over.
    spare_rows = max(0, (size_bytes - total(shapes)) // (2 * hidden))
    name, (rows, _), dtype = shapes[0]
    shapes[0] = (name, (rows + spare_rows, hidden), dtype)
    return shapes


def make_model(path: str, size_mib: int) -> dict[str, Any]:
    import numpy as np  # noqa: PLC0415
    from safetensors.numpy import save_file  # noqa: PLC0415

    rng = np.random.default_rng(16)
    tensors = {}
    for name, shape, dtype in model_shapes(size_mib * 2**20):
        tensors[name] = (rng.standard_normal(shape, dtype=np.float32) * 0.02).astype(dtype)
    save_file(tensors, path, metadata={"made_by": "python -m weightmap.bench --make"})
    return {"path": path, "tensors": len(tensors), "bytes": os.path.getsize(path)}


# ---- command line --------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m weightmap.bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("model", nargs="?", help="model path (a .safetensors file for the safetensors reader)")
    parser.add_argument("--runs", type=int, default=5, help="runs per reader and cache state (median taken)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON instead of Markdown")
    parser.add_argument("--make", metavar="PATH", help="write a test model (safetensors, F16/F32) to PATH and exit")
    parser.add_argument("--size-mib", type=int, default=512, help="size of the --make model")
    parser.add_argument("--sum", choices=tuple(SUMS), default="bytes",
                        help="bytes: 64-bit words mod 2**64 (memory speed); values: float64 sum of the values")
    parser.add_argument("--child", choices=READERS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(run_child(args.child, args.model, args.sum)))
        return 0
    if args.make:
        made = make_model(args.make, args.size_mib)
        print(json.dumps(made) if args.json else f"wrote {made['path']}: {made['tensors']} tensors, {made['bytes']} bytes")
        return 0
    if not args.model:
        parser.error("MODEL is required (or --make PATH)")
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    result = run_bench(args.model, args.runs, lambda line: print(line, file=sys.stderr), args.sum)
    print(json.dumps(result, indent=2) if args.json else markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
