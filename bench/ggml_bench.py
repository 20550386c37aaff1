#!/usr/bin/env python3
"""ggml's own GGUF loader against weightmap + the ggml adapter: the driver of
bench/ggml_bench (standard library only).

  python3 bench/ggml_bench.py --bench BUILD/bench/ggml_bench --weightmap BUILD/weightmap \
      [--model PATH] [--size-gb 3] [--kind auto] [--runs 3] [--threads N] [--out FILE]

Four cases (each loader, load alone and load plus one graph over every
weight), cold (the file evicted from the page cache before each process) and
warm (after an unmeasured warm-up run of each loader), --runs fresh processes
each; the loaders alternate within a run so noise hits both. Prints a
Markdown table of medians, the ratios weightmap/ggml for load plus graph
(targets: warm <= 0.5, cold <= 1.0) and whether the graph checksums of the
two loaders matched; every raw JSON line goes to --out.

Without --model it writes a model with BUILD/bench/make_bench_model under
/tmp/wm-ggml-bench/ (reused when present): --kind auto picks llama3-q4km (the
Llama-3-8B layout, 18 layers, Q4_K/Q6_K, about 3 GB) for --size-gb >= 2.5,
else the generator's generic F16 layout of --size-gb.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

WORK_DIR = "/tmp/wm-ggml-bench"
GiB = 1 << 30
LOADERS = ("ggml", "weightmap")
KINDS = ("auto", "llama3-q4km", "llama-f16", "llama-q4k", "gguf")


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def fail(msg):
    log(f"ggml_bench.py: {msg}")
    sys.exit(1)


def run_checked(cmd, what):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if p.returncode != 0:
        fail(f"{what} failed (exit {p.returncode}): {' '.join(cmd)}\n{p.stderr.strip()}")
    return p.stdout


def make_model(args):
    """The generated model's path, written once (to a temporary name first, so a
    half-written file is never reused)."""
    kind = args.kind
    if kind == "auto":
        kind = "llama3-q4km" if args.size_gb >= 2.5 else "gguf"
    name = f"{kind}-{args.size_gb:g}gb.gguf" if kind == "gguf" else f"{kind}.gguf"
    path = os.path.join(WORK_DIR, name)
    if os.path.exists(path):
        log(f"model: reusing {path}")
        return path
    gen = os.path.join(os.path.dirname(os.path.abspath(args.bench)), "make_bench_model")
    if not os.access(gen, os.X_OK):
        fail(f"no generator at {gen}: build the make_bench_model target or pass --model")
    cmd = [gen, kind, path + ".tmp"] + ([f"{args.size_gb:g}"] if kind == "gguf" else [])
    log(f"model: writing {path} ({' '.join(cmd)})")
    run_checked(cmd, "make_bench_model")
    os.rename(path + ".tmp", path)
    return path


def evict(args, model):
    run_checked([args.weightmap, "cache", "evict", model], "weightmap cache evict")


def resident_fraction(args, model):
    """How much of the file is in the page cache (None when the CLI cannot say)."""
    p = subprocess.run([args.weightmap, "cache", "status", "--json", model], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True)
    try:
        doc = json.loads(p.stdout)
        return doc["resident_bytes"] / doc["bytes"]
    except (ValueError, KeyError, TypeError, ZeroDivisionError):
        return None


def measure(args, model, loader, graph):
    cmd = [args.bench, "--loader", loader, "--graph" if graph else "--no-graph", model]
    if args.threads:
        cmd[1:1] = ["--threads", str(args.threads)]
    return json.loads(run_checked(cmd, f"ggml_bench ({loader})").strip().splitlines()[-1])


def run_all(args, model, out):
    results = []  # (state, record)
    cases = [(loader, graph) for graph in (False, True) for loader in LOADERS]
    for state in ("cold", "warm"):
        if state == "warm":
            for loader in LOADERS:  # unmeasured: brings the file (and each binary's code) into memory
                measure(args, model, loader, True)
        for run in range(args.runs):
            # Alternate which loader goes first, so drift (page cache, CPU
            # clocks) does not always favour the same one.
            order = cases if run % 2 == 0 else [(l, g) for g in (False, True) for l in reversed(LOADERS)]
            for loader, graph in order:
                if state == "cold":
                    evict(args, model)
                rec = measure(args, model, loader, graph)
                rec["state"] = state
                rec["run"] = run
                out.write(json.dumps(rec) + "\n")
                out.flush()
                results.append(rec)
                log(f"{state} run {run + 1}/{args.runs} {loader:9} {'load+graph' if graph else 'load'}: "
                    f"{rec['total_s']:.3f} s")
    return results


def median(records, key):
    return statistics.median(r[key] for r in records)


def report(args, model, results, cold_residency):
    size = os.path.getsize(model)
    first = results[0]
    print(f"## ggml_bench: {os.path.basename(model)}, {size / GiB:.2f} GiB, {first['tensors']} tensors, "
          f"{args.runs} runs per cell, {first['threads']} threads\n")
    print("| case | cache | loader | total s | load s | ready s | graph s | peak RSS GiB | RssAnon GiB |")
    print("|---|---|---|---:|---:|---:|---:|---:|---:|")
    med = {}
    for graph in (False, True):
        for state in ("cold", "warm"):
            for loader in LOADERS:
                cell = [r for r in results if r["loader"] == loader and r["graph"] == graph and r["state"] == state]
                med[(graph, state, loader)] = median(cell, "total_s")
                print(f"| {'load+graph' if graph else 'load'} | {state} | {loader} | {median(cell, 'total_s'):.3f} | "
                      f"{median(cell, 'load_s'):.3f} | {median(cell, 'ready_s'):.3f} | {median(cell, 'graph_s'):.3f} | "
                      f"{median(cell, 'peak_rss_bytes') / GiB:.2f} | {median(cell, 'rss_anon_bytes') / GiB:.2f} |")
    print()
    for state in ("warm", "cold"):
        ratio = med[(False, state, "weightmap")] / med[(False, state, "ggml")]
        print(f"- load, {state}: weightmap/ggml = {ratio:.2f}")
    for state, target in (("warm", 0.5), ("cold", 1.0)):
        ratio = med[(True, state, "weightmap")] / med[(True, state, "ggml")]
        print(f"- load+graph, {state}: weightmap/ggml = {ratio:.2f} "
              f"(target <= {target}: {'met' if ratio <= target else 'NOT met'})")
    sums = {repr(r["checksum"]) for r in results if r["graph"]}
    print(f"- graph checksums: {'all equal (' + sums.pop() + ')' if len(sums) == 1 else 'DIFFER: ' + ', '.join(sorted(sums))}")
    if cold_residency is not None:
        print(f"- page cache after `weightmap cache evict`: {100 * cold_residency:.1f}% of the file resident")
    print(f"- raw results: {args.out}")
    return len(sums) <= 1


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bench", required=True, help="BUILD/bench/ggml_bench")
    ap.add_argument("--weightmap", required=True, help="BUILD/weightmap (the CLI: cache evict)")
    ap.add_argument("--model", help="a GGUF file ggml can read; default: generate one")
    ap.add_argument("--size-gb", type=float, default=3.0, help="size of the generated model (default 3)")
    ap.add_argument("--kind", choices=KINDS, default="auto", help="generated layout (make_bench_model kinds)")
    ap.add_argument("--runs", type=int, default=3, help="fresh processes per cell (default 3)")
    ap.add_argument("--threads", type=int, default=0, help="graph threads (default: the hardware's)")
    ap.add_argument("--out", default=os.path.join(WORK_DIR, "results.jsonl"), help="raw JSON lines")
    args = ap.parse_args()
    if args.runs < 1:
        fail("--runs must be at least 1")
    for exe in (args.bench, args.weightmap):
        if not os.access(exe, os.X_OK):
            fail(f"not an executable: {exe}")
    os.makedirs(WORK_DIR, exist_ok=True)
    model = args.model or make_model(args)
    if not os.path.isfile(model):
        fail(f"no model file at {model}")
    # A freshly written file's pages are dirty, and eviction drops only clean ones.
    os.sync()
    evict(args, model)
    cold_residency = resident_fraction(args, model)
    if cold_residency is not None and cold_residency > 0.05:
        log(f"warning: {100 * cold_residency:.1f}% of {model} is still cached after eviction: 'cold' is not cold")
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as out:
        results = run_all(args, model, out)
    sys.exit(0 if report(args, model, results, cold_residency) else 1)


if __name__ == "__main__":
    main()
