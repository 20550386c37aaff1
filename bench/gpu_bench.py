#!/usr/bin/env python3
"""Load benchmark of weightmap on an accelerator (cuda) or its stand-in (sim),
against peers (safetensors, torch.load) and the limits measured in the same run.

Run by scripts/gpu-check.sh; standard library only, torch and safetensors
when importable (peers, pinned host-to-device bandwidth). Subcommands:

  gen   --dir D --size-gb S --dtype F16|BF16   write (or reuse) a model file
  topt  --src FILE --dst FILE                  the same tensors as a torch .pt
  peer  --kind K --file F --device D           one peer load in this process, JSON
  h2d   --device D                             pinned host-to-device GB/s, JSON
  run   ...                                    the whole benchmark: JSON + markdown

Every timed load runs in a fresh process, cold (file evicted first) or warm
(file read in first); medians of N runs.
"""
import argparse
import json
import os
import random
import shutil
import signal
import statistics
import struct
import subprocess
import sys
import time

GEN_VERSION = "wm-gpu-check-1"
MiB = 1 << 20


# ---------------------------------------------------------------- model files
def layout(total_bytes):
    """Tensor names and shapes of a Llama-shaped model of about total_bytes (2-byte dtypes)."""
    hidden = 4096 if total_bytes >= 8e9 else 2048 if total_bytes >= 1e9 else 1024
    inter = -(-hidden * 8 // 3 // 256) * 256  # 4096 -> 11008
    vocab = 32000 if total_bytes >= 1e9 else 8000
    tensors = [("model.embed_tokens.weight", [vocab, hidden])]
    tail = [("model.norm.weight", [hidden]), ("lm_head.weight", [vocab, hidden])]
    per_layer = [("self_attn.q_proj.weight", [hidden, hidden]), ("self_attn.k_proj.weight", [hidden, hidden]),
                 ("self_attn.v_proj.weight", [hidden, hidden]), ("self_attn.o_proj.weight", [hidden, hidden]),
                 ("mlp.gate_proj.weight", [inter, hidden]), ("mlp.up_proj.weight", [inter, hidden]),
                 ("mlp.down_proj.weight", [hidden, inter]), ("input_layernorm.weight", [hidden]),
                 ("post_attention_layernorm.weight", [hidden])]

    def nbytes(shape):
        n = 2
        for d in shape:
            n *= d
        return n

    used = sum(nbytes(s) for _, s in tensors + tail)
    layer_bytes = sum(nbytes(s) for _, s in per_layer)
    layers = max(1, int((total_bytes - used) // layer_bytes))
    for i in range(layers):
        tensors += [(f"model.layers.{i}.{n}", s) for n, s in per_layer]
    return [(n, s, nbytes(s)) for n, s in tensors + tail]


def value_block(dtype, count=1 << 20, seed=1234):
    """count little-endian values ~N(0, 0.02) of dtype (F16 or BF16), as bytes."""
    rng = random.Random(seed)
    vals = [rng.gauss(0.0, 0.02) for _ in range(count)]
    if dtype == "F16":
        return struct.pack(f"<{count}e", *vals)
    f32 = struct.pack(f"<{count}f", *vals)
    out = bytearray(2 * count)  # BF16: the high half of each F32 (truncated)
    out[0::2] = f32[2::4]
    out[1::2] = f32[3::4]
    return bytes(out)


def header_of(dtype, tensors, size_gb):
    meta = {"__metadata__": {"generator": GEN_VERSION, "size_gb": str(size_gb), "dtype": dtype}}
    off = 0
    for name, shape, n in tensors:
        meta[name] = {"dtype": dtype, "shape": shape, "data_offsets": [off, off + n]}
        off += n
    h = json.dumps(meta, separators=(",", ":")).encode()
    h += b" " * ((-(8 + len(h))) % 4096)  # tensor data starts page-aligned
    return h, off


def model_path(directory, size_gb, dtype):
    return os.path.join(directory, f"llama-{size_gb:g}gb-{dtype.lower()}.safetensors")


def expected_size(size_gb, dtype):
    h, data = header_of(dtype, layout(size_gb * 1e9), size_gb)
    return 8 + len(h) + data


def model_ok(path, size_gb, dtype):
    try:
        if os.path.getsize(path) != expected_size(size_gb, dtype):
            return False
        with open(path, "rb") as f:
            n = struct.unpack("<Q", f.read(8))[0]
            meta = json.loads(f.read(n)).get("__metadata__", {})
        return meta.get("generator") == GEN_VERSION and meta.get("dtype") == dtype
    except (OSError, ValueError):
        return False


def gen_model(directory, size_gb, dtype):
    """Writes the model (or reuses it); returns (path, seconds spent writing, reused)."""
    os.makedirs(directory, exist_ok=True)
    path = model_path(directory, size_gb, dtype)
    if model_ok(path, size_gb, dtype):
        return path, 0.0, True
    t0 = time.perf_counter()
    h, data = header_of(dtype, layout(size_gb * 1e9), size_gb)
    chunk = value_block(dtype) * 16  # 32 MiB
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        left = data
        view = memoryview(chunk)
        while left:
            n = min(left, len(chunk))
            f.write(view[:n])
            left -= n
        f.flush()
        os.fsync(f.fileno())  # clean pages: eviction can drop them
    os.replace(tmp, path)
    return path, time.perf_counter() - t0, False


def read_safetensors_header(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        return json.loads(f.read(n)), 8 + n


def make_pt(src, dst):
    """The tensors of safetensors file src as a torch.save file dst."""
    import torch
    try:
        from safetensors.torch import load_file
        sd = load_file(src)
    except ImportError:  # by hand: header + torch.frombuffer
        meta, start = read_safetensors_header(src)
        dt = {"F16": torch.float16, "BF16": torch.bfloat16, "F32": torch.float32}
        with open(src, "rb") as f:
            raw = bytearray(f.read())
        sd = {}
        for k, v in meta.items():
            if k == "__metadata__":
                continue
            b, e = v["data_offsets"]
            sd[k] = torch.frombuffer(raw, dtype=dt[v["dtype"]], offset=start + b,
                                     count=(e - b) // 2).reshape(v["shape"]).clone()
    tmp = dst + ".tmp"
    torch.save(sd, tmp)
    with open(tmp, "rb+") as f:
        os.fsync(f.fileno())
    os.replace(tmp, dst)


# ---------------------------------------------------------------- measurements
def proc_status():
    """RssAnon, VmHWM (KiB) of this process."""
    out = {}
    try:
        with open("/proc/self/status") as f:
            for line in f:
                k, _, v = line.partition(":")
                if k in ("RssAnon", "VmHWM", "VmRSS"):
                    out[k] = int(v.split()[0])
    except OSError:
        pass
    return out


def peer_load(kind, path, device):
    """One peer load in this process; prints a JSON object."""
    t_start = time.perf_counter()
    import torch
    dev = torch.device(device)
    cuda = dev.type == "cuda"
    if cuda:  # context creation before the clock: the peer's best case
        torch.cuda.init()
        torch.empty(1, device=dev)
        torch.cuda.synchronize(dev)
    before = proc_status()
    t0 = time.perf_counter()
    if kind in ("safetensors", "safetensors-half"):
        from safetensors.torch import load_file
        sd = load_file(path, device=str(dev))
        if kind == "safetensors-half":  # the converting peer: BF16 -> F16 on the device
            sd = {k: v.to(torch.float16) for k, v in sd.items()}
    elif kind == "torch":
        sd = torch.load(path, map_location="cpu", weights_only=True)
        sd = {k: v.to(dev) for k, v in sd.items()}
    else:
        raise SystemExit(f"unknown peer kind {kind}")
    if cuda:
        torch.cuda.synchronize(dev)
    t1 = time.perf_counter()
    after = proc_status()
    src_bytes = sum(v.numel() * 2 for v in sd.values())  # the files hold 2-byte dtypes
    print(json.dumps({
        "kind": kind, "device": str(dev), "tensors": len(sd), "bytes": src_bytes,
        "load_s": t1 - t0, "import_and_init_s": t0 - t_start,
        "anon_kib_before": before.get("RssAnon"), "anon_kib": after.get("RssAnon"),
        "peak_kib": after.get("VmHWM"),
    }))


def h2d(device, mib=256, reps=10):
    import torch
    dev = torch.device(device)
    n = mib * MiB
    out = {"device": str(dev), "bytes": n, "reps": reps}
    with torch.cuda.device(dev):  # events and copies on that device's current stream
        for pinned in (True, False):
            src = torch.empty(n, dtype=torch.uint8, pin_memory=pinned)
            src.fill_(1)
            dst = torch.empty(n, dtype=torch.uint8, device=dev)
            for _ in range(2):
                dst.copy_(src, non_blocking=pinned)
            torch.cuda.synchronize(dev)
            gbps = []
            for _ in range(reps):
                e0 = torch.cuda.Event(enable_timing=True)
                e1 = torch.cuda.Event(enable_timing=True)
                e0.record()
                dst.copy_(src, non_blocking=pinned)
                e1.record()
                e1.synchronize()
                gbps.append(n / (e0.elapsed_time(e1) / 1e3) / 1e9)
            out["pinned_gbps" if pinned else "pageable_gbps"] = statistics.median(gbps)
            out["pinned_samples" if pinned else "pageable_samples"] = gbps
            del src, dst
        out["gpu"] = torch.cuda.get_device_name(dev)
    print(json.dumps(out))


# ---------------------------------------------------------------- the run
class Bench:
    def __init__(self, a):
        self.a = a
        self.deadline = a.start_epoch + a.budget_s
        self.wm = a.wm
        self.dev = a.device
        self.sim = a.device == "sim"
        self.logs = a.logs or os.path.join(a.out, "logs")
        os.makedirs(self.logs, exist_ok=True)
        self.cases = []       # results, in run order
        self.skipped = []     # {"case", "why"}
        self.limits = {}      # per size: O_DIRECT etc.
        self.h2d = None
        self.notes = []
        self.missing_fields = set()
        self.peer_device = a.peer_device or (None if self.sim else a.device)
        self.peers_why = None
        self.per_gb_s = {}    # (tool, cache) -> seconds per GB of a run (load + eviction/warming), for estimates
        self.overhead_s = {}  # (tool, cache) -> seconds of a process outside its load (start, imports, exit)
        self.py = sys.executable

    # -- time
    def left(self):
        return self.deadline - time.time()

    def log(self, msg):
        print(f"[gpu-check {time.time() - self.a.start_epoch:6.1f}s] {msg}", flush=True)

    def sh(self, cmd, name, timeout=None):
        """Runs cmd; stdout/stderr to logs/name.{out,err}; returns (rc, stdout, stderr, seconds)."""
        timeout = max(1.0, min(timeout or 1e9, self.left()))
        t0 = time.perf_counter()
        try:
            p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
            rc, so, se = p.returncode, p.stdout, p.stderr
        except subprocess.TimeoutExpired as e:
            rc = 124
            so = e.stdout.decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
            se = (e.stderr.decode() if isinstance(e.stderr, bytes) else (e.stderr or "")) + f"\n[timed out after {timeout:.0f} s]"
        dt = time.perf_counter() - t0
        with open(os.path.join(self.logs, name + ".out"), "w") as f:
            f.write(so)
        with open(os.path.join(self.logs, name + ".err"), "w") as f:
            f.write(f"$ {' '.join(cmd)}\n# rc={rc} seconds={dt:.3f}\n{se}")
        return rc, so, se, dt

    # -- page cache
    def evict(self, path, name):
        rc, so, se, _ = self.sh([self.wm, "cache", "evict", path, "--json"], name + ".evict", 120)
        resident = None
        if rc == 0:
            try:
                resident = json.loads(so).get("resident_bytes")
            except ValueError:
                pass
        if rc != 0 or resident is None:  # e.g. a file weightmap does not parse: fadvise ourselves
            fd = os.open(path, os.O_RDONLY)
            try:
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            finally:
                os.close(fd)
        size = os.path.getsize(path)
        return resident / size if resident is not None and size else None

    def warm(self, path, name):
        rc, _, _, _ = self.sh([self.wm, "cache", "warm", path, "--json"], name + ".warm", 300)
        if rc != 0:
            with open(path, "rb") as f:
                while f.read(64 * MiB):
                    pass

    # -- estimates
    def estimate(self, tool, cache, size_gb, runs):
        """Seconds for `runs` runs: the worst per-process overhead seen for this tool and cache
        state, plus the worst seconds per GB seen (load and eviction or warming), times size."""
        overhead = self.overhead_s.get((tool, cache), 3.0 if tool == "peer" else 1.0)
        per_gb = self.per_gb_s.get((tool, cache), 1.0)  # unknown yet: 1 GB/s
        return runs * (overhead + per_gb * size_gb)

    def observe(self, tool, cache, size_gb, run, prep):
        key = (tool, cache)
        over = max(0.0, run["wall_s"] - run["time_s"])
        self.overhead_s[key] = max(self.overhead_s.get(key, 0.0), over)
        self.per_gb_s[key] = max(self.per_gb_s.get(key, 0.0), (run["time_s"] + prep) / max(size_gb, 0.01))

    def fit_runs(self, tool, cache, size_gb, runs):
        for r in range(runs, 0, -1):
            if self.estimate(tool, cache, size_gb, r) < self.left() - 5:
                return r
        return 0

    # -- one case
    def case(self, size_gb, name, tool, cache, path, extra=None, kind=None, io="default"):
        a = self.a
        label = f"{size_gb:g}GB {name} {cache}"
        runs = self.fit_runs(tool, cache, size_gb, a.runs)
        if runs == 0:
            self.skip(label, f"time budget: about {self.estimate(tool, cache, size_gb, 1):.0f} s a run, {self.left():.0f} s left")
            return None
        res = {"size_gb": size_gb, "case": name, "tool": tool, "cache": cache, "file": path, "io": io,
               "runs_wanted": a.runs, "runs": [], "errors": []}
        if runs < a.runs:
            res["note"] = f"{runs} of {a.runs} runs (time budget)"
        self.log(f"{label}: {runs} run(s)")
        for r in range(runs):
            if r and self.estimate(tool, cache, size_gb, 1) > self.left() - 5:
                res["note"] = f"{r} of {a.runs} runs (time budget)"
                break
            tag = safe_name(f"{size_gb:g}gb-{name}-{cache}-r{r + 1}")
            t_prep = time.perf_counter()
            residency = None
            if cache == "cold":
                residency = self.evict(path, tag)
            else:
                self.warm(path, tag)
            prep = time.perf_counter() - t_prep
            if tool == "weightmap":
                run = self.run_wm(path, extra or [], tag)
            else:
                run = self.run_peer(kind, path, tag)
            if residency is not None:
                run["residency_before"] = residency
            if "error" in run:
                res["errors"].append(run["error"])
                self.log(f"  run {r + 1}: FAILED: {run['error'][:300]}")
                break  # one failure is enough to know
            res["runs"].append(run)
            self.observe(tool, cache, size_gb, run, prep)
            self.log(f"  run {r + 1}: {run['time_s']:.3f} s, {run['gbps']:.2f} GB/s, wall {run['wall_s']:.2f} s"
                     + (f", anon +{run['anon_growth_mib']:.0f} MiB" if run.get("anon_growth_mib") is not None else ""))
        res["median"] = self.medians(res["runs"])
        self.cases.append(res)
        write_reports(self, final=False)
        return res

    @staticmethod
    def medians(runs):
        m = {}
        for k in ("time_s", "gbps", "wall_s", "anon_growth_mib", "anon_growth_excl_device_mib", "peak_rss_mib",
                  "residency_before"):
            xs = [r[k] for r in runs if r.get(k) is not None]
            m[k] = statistics.median(xs) if xs else None
        return m

    def run_wm(self, path, extra, tag):
        cmd = [self.wm, "load", path, "--device", f"*={self.dev}", "--json"] + extra
        rc, so, se, wall = self.sh(cmd, tag)
        if rc != 0:
            return {"error": f"rc={rc}: " + (se.strip().splitlines() or ["(no stderr)"])[-1], "wall_s": wall}
        try:
            rep = json.loads(so)
        except ValueError as e:
            return {"error": f"no JSON on stdout ({e})", "wall_s": wall}

        def get(*keys):
            d = rep
            for k in keys:
                if not isinstance(d, dict) or k not in d:
                    self.missing_fields.add(".".join(keys))
                    return None
                d = d[k]
            return d

        total_ms = get("time_ms", "total")
        nbytes = get("bytes_total")
        anon, anon0, peak = get("rss", "anon_kib"), get("rss", "anon_kib_before"), get("rss", "peak_kib")
        dev_bytes = get("device_bytes")
        staging = get("staging", "budget_bytes")
        t = (total_ms or 0) / 1e3
        run = {"time_s": t, "wall_s": wall, "bytes": nbytes, "gbps": nbytes / t / 1e9 if t and nbytes else None,
               "anon_growth_mib": (anon - anon0) / 1024 if anon is not None and anon0 is not None else None,
               "peak_rss_mib": peak / 1024 if peak is not None else None,
               "staging_budget_mib": staging / MiB if staging is not None else None,
               "device_bytes": dev_bytes, "threads": rep.get("threads"), "io": rep.get("io"),
               "staging": rep.get("staging"),  # budget, peak, and (newer builds) the device's pinned share
               "time_ms": rep.get("time_ms"), "tensors": rep.get("tensors"),
               "tensors_converted": rep.get("tensors_converted")}
        # sim's device memory is host memory of this process (RssAnon); a cuda device's is not
        if self.sim and run["anon_growth_mib"] is not None and dev_bytes is not None:
            run["anon_growth_excl_device_mib"] = run["anon_growth_mib"] - dev_bytes / MiB
        else:
            run["anon_growth_excl_device_mib"] = run["anon_growth_mib"]
        return run

    def run_peer(self, kind, path, tag):
        cmd = [self.py, os.path.abspath(__file__), "peer", "--kind", kind, "--file", path, "--device", self.peer_device]
        rc, so, se, wall = self.sh(cmd, tag)
        if rc != 0:
            return {"error": f"rc={rc}: " + (se.strip().splitlines() or ["(no stderr)"])[-1], "wall_s": wall}
        try:
            rep = json.loads(so.strip().splitlines()[-1])
        except (ValueError, IndexError) as e:
            return {"error": f"no JSON on stdout ({e})", "wall_s": wall}
        t = rep["load_s"]
        anon, anon0 = rep.get("anon_kib"), rep.get("anon_kib_before")
        growth = (anon - anon0) / 1024 if anon is not None and anon0 is not None else None
        return {"time_s": t, "wall_s": wall, "bytes": rep["bytes"], "gbps": rep["bytes"] / t / 1e9 if t else None,
                "anon_growth_mib": growth, "anon_growth_excl_device_mib": growth,
                "peak_rss_mib": rep["peak_kib"] / 1024 if rep.get("peak_kib") else None,
                "import_and_init_s": rep.get("import_and_init_s"), "device": rep.get("device")}

    def skip(self, what, why):
        self.skipped.append({"case": what, "why": why})
        self.log(f"SKIPPED {what}: {why}")

    # -- limits
    def direct_bw(self, size_gb, path):
        """O_DIRECT read bandwidth of the file: the better of `weightmap bench`'s probe and dd."""
        lim = {"file": path}
        est = size_gb / 0.5 + 10
        if est > self.left() - 5:
            lim["why"] = "time budget"
            self.skip(f"{size_gb:g}GB limits (O_DIRECT read)", "time budget")
            self.limits[f"{size_gb:g}"] = lim
            return lim
        tag = f"{size_gb:g}gb-limits"
        rc, so, se, dt = self.sh([self.wm, "bench", path, "--warm", "--runs", "1", "--strategies", "mmap", "--json"], tag)
        if rc == 0:
            try:
                l = json.loads(so)["limits"]
                lim.update({"direct_read_gbps": l.get("direct_read_gbps"), "memory_read_gbps": l.get("memory_read_gbps"),
                            "fresh_write_gbps": l.get("fresh_write_gbps")})
            except (ValueError, KeyError) as e:
                lim["bench_error"] = f"bad JSON: {e}"
        else:
            lim["bench_error"] = (se.strip().splitlines() or ["?"])[-1]
        # dd as well (16 MiB blocks, at most 4 GiB): the limit is the better of the two
        self.evict(path, tag + "-dd")
        blocks = max(1, min(os.path.getsize(path) // (16 * MiB), 256))
        rc, so, se, dt = self.sh(["dd", f"if={path}", "of=/dev/null", "bs=16M", f"count={blocks}", "iflag=direct"],
                                 tag + "-dd", 120)
        if rc == 0 and dt > 0:
            lim["dd_direct_gbps"] = blocks * 16 * MiB / dt / 1e9
        else:
            lim["dd_error"] = (se.strip().splitlines() or ["?"])[-1]
        bench_bw = lim.get("direct_read_gbps") or 0
        dd_bw = lim.get("dd_direct_gbps") or 0
        if bench_bw or dd_bw:
            lim["bench_direct_gbps"] = bench_bw or None
            lim["direct_read_gbps"] = max(bench_bw, dd_bw)
            lim["source"] = "weightmap bench" if bench_bw >= dd_bw else "dd"
        else:  # O_DIRECT refused (tmpfs, some sandboxes): a buffered read after eviction stands in
            self.evict(path, tag + "-dd-buffered")
            rc, so, se, dt = self.sh(["dd", f"if={path}", "of=/dev/null", "bs=16M", f"count={blocks}"],
                                     tag + "-dd-buffered", 120)
            if rc == 0 and dt > 0:
                lim["direct_read_gbps"] = blocks * 16 * MiB / dt / 1e9
                lim["source"] = "dd buffered after eviction (O_DIRECT refused)"
        self.limits[f"{size_gb:g}"] = lim
        self.log(f"{size_gb:g}GB limits: O_DIRECT read {lim.get('direct_read_gbps') or 0:.2f} GB/s"
                 f" ({lim.get('source', 'not measured')}), memory read {lim.get('memory_read_gbps') or 0:.2f} GB/s")
        return lim

    def measure_h2d(self):
        if self.sim:
            self.h2d = {"why": "not applicable (sim)"}
            return
        rc, so, se, _ = self.sh([self.py, os.path.abspath(__file__), "h2d", "--device", self.dev], "h2d", 120)
        if rc == 0:
            try:
                self.h2d = json.loads(so.strip().splitlines()[-1])
            except (ValueError, IndexError) as e:
                self.h2d = {"why": f"bad output: {e}"}
        else:
            self.h2d = {"why": "failed: " + (se.strip().splitlines() or ["?"])[-1]}
        self.log(f"pinned H2D: {self.h2d.get('pinned_gbps', self.h2d.get('why'))}")

    def check_peers(self):
        if self.peer_device is None:
            self.peers_why = "device is sim (peers need a torch device: run with --device cuda)"
            return
        rc, so, se, _ = self.sh([self.py, "-c", "import torch, safetensors, sys; d = torch.device(sys.argv[1]);"
                                 " assert d.type != 'cuda' or torch.cuda.is_available(), 'torch.cuda.is_available() is False';"
                                 " print(torch.__version__, safetensors.__version__)", self.peer_device], "peers-probe", 120)
        if rc != 0:
            self.peers_why = "torch/safetensors not usable: " + (se.strip().splitlines() or ["?"])[-1]
        else:
            self.notes.append(f"peers: torch/safetensors {so.strip()} on {self.peer_device}")

    # -- models
    def model(self, size_gb, dtype):
        path = model_path(self.a.models, size_gb, dtype)
        if model_ok(path, size_gb, dtype):
            return path
        need = expected_size(size_gb, dtype)
        free = shutil.disk_usage(self.a.models).free
        if free < need + 2 * 1024 ** 3:
            self.skip(f"{size_gb:g}GB {dtype} model", f"disk: {need / 1e9:.1f} GB needed, {free / 1e9:.1f} GB free in {self.a.models}")
            return None
        est = size_gb / self.gen_gbps + 5
        if est > self.left() - 20:
            self.skip(f"{size_gb:g}GB {dtype} model", f"time budget: about {est:.0f} s to write, {self.left():.0f} s left")
            return None
        path, dt, reused = gen_model(self.a.models, size_gb, dtype)
        if dt > 0:
            self.gen_gbps = min(self.gen_gbps, max(0.05, size_gb / dt)) if self.gen_measured else max(0.05, size_gb / dt)
            self.gen_measured = True
        self.log(f"model {path}: {'reused' if reused else f'written in {dt:.1f} s'}")
        return path

    def pt_of(self, size_gb, src):
        dst = src.replace(".safetensors", ".pt")
        if os.path.exists(dst) and os.path.getmtime(dst) >= os.path.getmtime(src) and \
                os.path.getsize(dst) >= os.path.getsize(src) - 8 * MiB:
            return dst
        need = os.path.getsize(src) + 2 * 1024 ** 3
        if shutil.disk_usage(self.a.models).free < need:
            self.skip(f"{size_gb:g}GB torch .pt", "disk space")
            return None
        est = 3 * size_gb / self.gen_gbps + 10
        if est > self.left() - 20:
            self.skip(f"{size_gb:g}GB torch .pt", f"time budget: about {est:.0f} s to write, {self.left():.0f} s left")
            return None
        rc, _, se, dt = self.sh([self.py, os.path.abspath(__file__), "topt", "--src", src, "--dst", dst], f"{size_gb:g}gb-make-pt")
        if rc != 0:
            self.skip(f"{size_gb:g}GB torch .pt", "torch.save failed: " + (se.strip().splitlines() or ["?"])[-1])
            return None
        self.log(f"made {dst} in {dt:.1f} s")
        return dst

    # -- the plan
    def run(self):
        a = self.a
        self.gen_gbps, self.gen_measured = 0.5, False
        os.makedirs(a.models, exist_ok=True)
        self.check_peers()
        if self.peers_why:
            self.log(f"peers skipped: {self.peers_why}")
        self.measure_h2d()
        peers = self.peers_why is None
        for size in a.sizes:
            f16 = self.model(size, "F16")
            if not f16:
                self.skip(f"{size:g}GB: every case", "no F16 model")
                continue
            self.direct_bw(size, f16)
            self.case(size, "weightmap F16", "weightmap", "warm", f16)
            self.case(size, "weightmap F16", "weightmap", "cold", f16)
            if peers:
                self.case(size, "safetensors F16", "peer", "warm", f16, kind="safetensors")
                self.case(size, "safetensors F16", "peer", "cold", f16, kind="safetensors")
            bf16 = self.model(size, "BF16")
            if bf16:
                self.case(size, "weightmap BF16", "weightmap", "warm", bf16)
                self.case(size, "weightmap BF16", "weightmap", "cold", bf16)
                self.case(size, "weightmap BF16->F16", "weightmap", "warm", bf16, extra=["--type", "F16"])
                self.case(size, "weightmap BF16->F16", "weightmap", "cold", bf16, extra=["--type", "F16"])
            self.case(size, "weightmap F16 --io direct", "weightmap", "cold", f16, extra=["--io", "direct"], io="direct")
            if peers and bf16:
                self.case(size, "safetensors BF16", "peer", "warm", bf16, kind="safetensors")
                self.case(size, "safetensors BF16->F16", "peer", "warm", bf16, kind="safetensors-half")
            if peers:
                pt = self.pt_of(size, f16)
                if pt:
                    self.case(size, "torch.load F16 .pt", "peer", "warm", pt, kind="torch")
                    self.case(size, "torch.load F16 .pt", "peer", "cold", pt, kind="torch")
            elif size == a.sizes[0]:
                self.skip("peers (safetensors, torch.load): every size", self.peers_why)

    # -- results
    def find(self, size, name, cache):
        for c in self.cases:
            if c["size_gb"] == size and c["case"] == name and c["cache"] == cache and c["runs"]:
                return c
        return None

    def targets(self):
        out = []
        h2d = (self.h2d or {}).get("pinned_gbps")
        for size in self.a.sizes:
            lim = self.limits.get(f"{size:g}", {})
            wf = self.find(size, "weightmap F16", "warm")
            wc = self.find(size, "weightmap F16", "cold")
            wd = self.find(size, "weightmap F16 --io direct", "cold")
            sw = self.find(size, "safetensors F16", "warm")

            def row(what, value, target, ok, why=None):
                out.append({"size_gb": size, "ratio": what, "value": value, "target": target,
                            "pass": ok if value is not None else None, "why": why})

            if not h2d:
                row("warm weightmap GB/s / pinned H2D GB/s", None, ">= 0.8", None,
                    (self.h2d or {}).get("why", "no H2D bandwidth"))
            for c in [wf, self.find(size, "weightmap BF16", "warm"), self.find(size, "weightmap BF16->F16", "warm")]:
                if c is None or not h2d:
                    continue
                v = c["median"]["gbps"] / h2d if c["median"]["gbps"] else None
                row(f"warm {c['case']} GB/s / pinned H2D GB/s", v, ">= 0.8", v is not None and v >= 0.8,
                    None if v is not None else "no GB/s")
            d = lim.get("direct_read_gbps")
            for c in [wc, wd]:
                if c is None:
                    continue
                v = c["median"]["gbps"] / d if d and c["median"]["gbps"] else None
                row(f"cold {c['case']} GB/s / O_DIRECT GB/s", v, ">= 0.9", v is not None and v >= 0.9,
                    None if v is not None else "no O_DIRECT bandwidth")
            if wf:
                v = sw["median"]["time_s"] / wf["median"]["time_s"] if sw and wf["median"]["time_s"] else None
                row("safetensors warm time / weightmap warm time (F16)", v, ">= 3", v is not None and v >= 3,
                    None if v is not None else (self.peers_why or "no safetensors run"))
            worst, staging = None, None  # the largest growth over the weightmap cases of this size
            for c in self.cases:
                if c["size_gb"] != size or c["tool"] != "weightmap" or not c["runs"]:
                    continue
                g = c["median"]["anon_growth_excl_device_mib"]
                st = max((r.get("staging_budget_mib") or 0) for r in c["runs"])
                if g is not None and st and (worst is None or g - st > worst[0] - staging):
                    worst, staging = (g, c), st
            what = "host RssAnon growth" + (" less sim device memory" if self.sim else "")
            if worst is None:
                row(f"{what} (MiB)", None, "<= staging + 64 MiB", None, "no weightmap run with rss and staging fields")
            else:
                g, c = worst
                row(f"{what}, worst case: {c['case']} {c['cache']} (MiB)", g,
                    f"<= {staging + 64:.0f} (staging {staging:.0f} + 64)", g <= staging + 64)
        return out


def safe_name(s):
    """A log file name of [A-Za-z0-9._-] only (the device machine returns no other names)."""
    s = s.replace("->", "-to-").replace(" --", "-").replace(" ", "-")
    return "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in s)


def fmt(v, nd=2):
    if v is None:
        return "—"
    if isinstance(v, float):
        return f"{v:.{nd}f}"
    return str(v)


def markdown(b, doc):
    a = b.a
    L = [f"# gpu-check: weightmap on `{a.device}`", "",
         f"{doc['date']}; build `{a.build}`; models `{a.models}`; runs {a.runs} (medians); "
         f"budget {a.budget_s:.0f} s, used {doc['elapsed_s']:.0f} s.", ""]
    m = doc.get("machine", {})
    if m:
        L += ["## Machine", "", "```", m.get("text", "").strip(), "```", ""]
    ct = doc.get("ctest", {})
    L += ["## CTest label `gpu`", "", f"- {ct.get('summary', 'not run')}", ""]
    L += ["## Limits", "",
          "| size | O_DIRECT read GB/s | weightmap bench probe | dd | memory read GB/s | used |", "|---|---|---|---|---|---|"]
    for size, lim in b.limits.items():
        L.append(f"| {size} GB | {fmt(lim.get('direct_read_gbps'))} | {fmt(lim.get('bench_direct_gbps'))} | "
                 f"{fmt(lim.get('dd_direct_gbps'))} | {fmt(lim.get('memory_read_gbps'))} | "
                 f"{lim.get('source', lim.get('why', lim.get('bench_error', '—')))} |")
    h = b.h2d or {}
    L += ["", "Pinned host-to-device: " + (f"{h['pinned_gbps']:.2f} GB/s (pageable {h.get('pageable_gbps', 0):.2f} GB/s, "
                                            f"{h.get('gpu', '')}, 256 MiB copies, median of {h.get('reps')})"
                                            if "pinned_gbps" in h else h.get("why", "not measured")), ""]
    L += ["## Cases", "",
          "Time: weightmap's `time_ms.total`; peers: in the process, from just before the load call to after "
          "synchronize (torch import and CUDA context creation excluded). Wall: the whole process. "
          "GB/s: tensor bytes / time.", "",
          "| size | case | cache | runs | time s | GB/s | wall s | RssAnon growth MiB | peak RSS MiB | notes |",
          "|---|---|---|---|---|---|---|---|---|---|"]
    for c in doc["cases"]:
        md = c["median"]
        notes = []
        if c.get("note"):
            notes.append(c["note"])
        if c["errors"]:
            e = c["errors"][0]
            e = e if len(e) <= 220 else e[:90] + " … " + e[-120:]
            notes.append("error: " + e.replace("|", "\\|"))
        if b.sim and c["tool"] == "weightmap" and md.get("anon_growth_mib") is not None:
            notes.append(f"excl. sim device memory: {fmt(md.get('anon_growth_excl_device_mib'), 0)} MiB")
        if c["cache"] == "cold" and md.get("residency_before") is not None and md["residency_before"] > 0.01:
            notes.append(f"{100 * md['residency_before']:.0f}% still cached after eviction")
        L.append(f"| {c['size_gb']:g} GB | {c['case']} | {c['cache']} | {len(c['runs'])}/{c['runs_wanted']} | "
                 f"{fmt(md.get('time_s'), 3)} | {fmt(md.get('gbps'))} | {fmt(md.get('wall_s'))} | "
                 f"{fmt(md.get('anon_growth_mib'), 0)} | {fmt(md.get('peak_rss_mib'), 0)} | {'; '.join(notes)} |")
    L += ["", "## Targets", "", "| size | ratio | value | target | pass |", "|---|---|---|---|---|"]
    for t in doc["targets"]:
        p = "—" if t["pass"] is None else ("yes" if t["pass"] else "**no**")
        v = fmt(t["value"]) + (f" ({t['why']})" if t.get("why") else "")
        L.append(f"| {t['size_gb']:g} GB | {t['ratio']} | {v} | {t['target']} | {p} |")
    if doc["skipped"]:
        L += ["", "## Skipped", ""] + [f"- {s['case']}: {s['why']}" for s in doc["skipped"]]
    if doc["missing_report_fields"]:
        L += ["", "## Fields missing from `weightmap load --json`", ""] + [f"- `{k}`" for k in doc["missing_report_fields"]]
    if doc["notes"]:
        L += ["", "## Notes", ""] + [f"- {n}" for n in doc["notes"]]
    return "\n".join(L) + "\n"


def parse_ctest(log_path, rc):
    try:
        text = open(log_path, errors="replace").read()
    except OSError:
        return {"rc": rc, "summary": "no log"}
    out = {"rc": rc}
    if "No tests were found" in text:
        out["summary"] = f"no tests labelled `gpu` in the build (rc {rc})"
        return out
    import re
    m = re.search(r"(\d+)% tests passed, (\d+) tests? failed out of (\d+)", text)
    skipped = len(re.findall(r"\*\*\*Skipped|Not Run|\(Disabled\)", text))
    failed_names = re.findall(r"^\s*\d+ - (\S+) \((Failed|Timeout|SEGFAULT|Subprocess aborted|Exception)", text, re.M)
    if m:
        out.update({"total": int(m.group(3)), "failed": int(m.group(2)), "skipped": skipped,
                    "failed_tests": [n for n, _ in failed_names]})
        out["summary"] = (f"{int(m.group(3)) - int(m.group(2))} of {m.group(3)} passed ({skipped} of them skipped), "
                          f"{m.group(2)} failed{': ' + ', '.join(out['failed_tests']) if out['failed_tests'] else ''} (rc {rc})")
    elif rc == 124:
        out["summary"] = "timed out (see ctest-gpu.log)"
    else:
        out["summary"] = f"rc {rc}, no summary line (see ctest-gpu.log)"
    return out


def write_reports(b, final):
    """gpu-check.json and gpu-check.md under $OUT: after every case (a killed run keeps what it had) and at the end."""
    a = b.a
    notes = list(b.notes)
    if b.sim:
        notes.append("sim: its device buffers are host memory of the loading process, so RssAnon growth "
                     "includes the model; the RssAnon target uses the growth less device_bytes")
    if a.peer_device and a.device == "sim":
        notes.append(f"peers ran on torch device '{a.peer_device}' (--peer-device), for testing the script")
    if not final:
        notes.append("partial: the run had not finished when these were written")
    doc = {"tool": "gpu-check", "date": time.strftime("%Y-%m-%d %H:%M:%S %z"), "final": final, "device": a.device,
           "build": a.build, "weightmap": a.wm, "models_dir": a.models, "sizes_gb": a.sizes, "runs": a.runs,
           "budget_s": a.budget_s, "elapsed_s": time.time() - a.start_epoch,
           "python": sys.version.split()[0], "peer_device": b.peer_device, "peers_skipped": b.peers_why,
           "limits": b.limits, "pinned_h2d": b.h2d, "cases": b.cases, "targets": b.targets(),
           "skipped": b.skipped, "missing_report_fields": sorted(b.missing_fields), "notes": notes}
    if a.machine and os.path.exists(a.machine):
        with open(a.machine, errors="replace") as f:
            doc["machine"] = {"text": f.read()}
    if a.ctest_log:
        doc["ctest"] = parse_ctest(a.ctest_log, a.ctest_rc)
        if a.device == "sim":
            doc["ctest"]["summary"] += "; device sim: tests that need a GPU skip with a reason"
    for name, text in (("gpu-check.json", json.dumps(doc, indent=1)), ("gpu-check.md", markdown(b, doc))):
        tmp = os.path.join(a.out, name + ".tmp")
        with open(tmp, "w") as f:
            f.write(text)
        os.replace(tmp, os.path.join(a.out, name))


def cmd_run(a):
    a.sizes = [float(s) for s in a.sizes.split(",") if s]
    models, out = os.path.realpath(a.models), os.path.realpath(a.out)
    if models == out or models.startswith(out + os.sep):
        raise SystemExit("--models must not be inside $OUT (it would be copied back)")

    def on_term(signum, frame):  # `timeout` past the budget: stop, keep the results so far
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    b = Bench(a)
    try:
        b.run()
    except KeyboardInterrupt:
        b.notes.append(f"interrupted after {time.time() - a.start_epoch:.0f} s: later cases did not run")
    finally:
        write_reports(b, final=True)
    return 1 if any(c["errors"] for c in b.cases) else 0


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("gen")
    g.add_argument("--dir", required=True)
    g.add_argument("--size-gb", type=float, required=True)
    g.add_argument("--dtype", choices=["F16", "BF16"], required=True)
    t = sub.add_parser("topt")
    t.add_argument("--src", required=True)
    t.add_argument("--dst", required=True)
    pe = sub.add_parser("peer")
    pe.add_argument("--kind", choices=["safetensors", "safetensors-half", "torch"], required=True)
    pe.add_argument("--file", required=True)
    pe.add_argument("--device", required=True)
    h = sub.add_parser("h2d")
    h.add_argument("--device", required=True)
    r = sub.add_parser("run")
    r.add_argument("--wm", required=True, help="the weightmap binary")
    r.add_argument("--build", required=True)
    r.add_argument("--device", required=True, help="sim, cuda, cuda:N")
    r.add_argument("--sizes", default="2,16")
    r.add_argument("--runs", type=int, default=3)
    r.add_argument("--models", default="/tmp/wm-gpu-models")
    r.add_argument("--out", required=True)
    r.add_argument("--budget-s", type=float, default=540)
    r.add_argument("--start-epoch", type=float, default=time.time())
    r.add_argument("--peer-device", default=None, help="torch device for the peers (default: --device unless sim)")
    r.add_argument("--machine", default=None, help="machine facts text file")
    r.add_argument("--logs", default=None, help="folder for every command's stdout and stderr (default OUT/logs)")
    r.add_argument("--ctest-log", default=None)
    r.add_argument("--ctest-rc", type=int, default=None)
    a = p.parse_args()
    if a.cmd == "gen":
        path, dt, reused = gen_model(a.dir, a.size_gb, a.dtype)
        print(json.dumps({"path": path, "seconds": dt, "reused": reused}))
    elif a.cmd == "topt":
        make_pt(a.src, a.dst)
    elif a.cmd == "peer":
        peer_load(a.kind, a.file, a.device)
    elif a.cmd == "h2d":
        h2d(a.device)
    else:
        return cmd_run(a)
    return 0


if __name__ == "__main__":
    sys.exit(main())
