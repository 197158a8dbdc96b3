#!/usr/bin/env python3
"""
clipql's GPU benchmark (scripts/gpu-bench.sh runs it), staged for a short lease on one GPU: a
total budget (--budget, 300 s by default), each stage in a child process with its own timeout
inside it, and the results file (--out) rewritten as each stage ends, so that a stage that fails,
hangs or is cut off by the machine's limit leaves every earlier stage's figures on disk.

For ViT-L/14@336px and ViT-B/32 (full shapes, random weights; bundles.py finds or builds them),
in this order (stages.py lists them): the torch stages first (the environment, the
matrix-product rate, then per model the bundle, (a) the in-process limit and (b) through
worker.py, then per model the graph/compile check against eager), then those that need PIL or
node ((d) the DataLoader peer, the preprocessing ceiling, (c) end to end through the server).
Past the budget the remaining stages are skipped; `--stages` runs them in a second command. Then every figure as a ratio to (a)
and to (d), the model's FLOP utilisation, the targets met or not (report.py).

  scripts/gpu-bench.sh                        ViT-L/14@336px and ViT-B/32 on cuda:0
  scripts/gpu-bench.sh --cpu --small          the tiny model on the torch CPU backend (CI)
  scripts/gpu-bench.sh --cpu --cpu-workers    two CPU workers against one (ViT-B/32, concurrency 8)
  scripts/gpu-bench.sh --inject b:tiny=fail --inject matmul=hang    the rehearsal of a bad stage

A stage's status in the file: ok (with its result), failed (with the error's last lines),
timeout (killed with everything it started), skipped (past the budget), or running (the run was
cut off during it); a failed or cut-off stage keeps what it had measured as "partial". Ratios are what mean something: the same figures taken minutes apart differ.
"""
import argparse
import json
import os
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.dont_write_bytecode = True
sys.path[:0] = [HERE, os.path.join(REPO, "src", "backends", "torch")]

import report  # noqa: E402
import stages  # noqa: E402

# Each stage's own limit in seconds (GPU; the CPU form's in the second column), inside the budget.
TIMEOUTS = {"env": (60, 60), "matmul": (30, 30), "bundle": (120, 60), "a": (60, 60), "graphs": (150, 120), "b": (45, 60),
            "jpegs": (30, 30), "d": (45, 60), "ceiling": (30, 30), "c": (90, 90), "cpu-workers": (580, 580)}
MIN_STAGE = 5  # seconds: a stage that would get less is skipped


def parse(argv):
    p = argparse.ArgumentParser(description="clipql GPU benchmark", epilog=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cpu", action="store_true", help="the torch CPU backend (float32) instead of a GPU")
    p.add_argument("--small", action="store_true", help="the tiny model, few images, short runs (with --cpu: CI)")
    p.add_argument("--device", default="cuda:0")
    p.add_argument("--models", help="presets, comma-separated (default vit-l-14-336,vit-b-32; tiny with --small)")
    p.add_argument("--dtype", help="default float16 on a GPU, float32 on the CPU")
    p.add_argument("--batches", help="(a)'s batch sizes (default 16,32,64,128; 4,8 with --small)")
    p.add_argument("--seconds", type=float, help="per measurement (default 3; 1 with --small)")
    p.add_argument("--in-flight", type=int, default=2, help="(b) and the server: batches in flight per worker")
    p.add_argument("--node", default="node", help="Node.js for (c) (default: node on the PATH)")
    p.add_argument("--concurrency", type=int, help="(c) connections (default 256; 8 with --small)")
    p.add_argument("--per-request", type=int, default=1, help="(c) images per request (default 1)")
    p.add_argument("--preprocess-threads", type=int, help="(c) CLIP_PREPROCESS_THREADS (default cores - 2; 1 on the CPU)")
    p.add_argument("--peer-workers", type=int, default=os.cpu_count(), help="(d) DataLoader workers (default: cores)")
    p.add_argument("--peer-torchscript", action="store_true", help="(d) the bundle's TorchScript graphs instead of clip_model")
    p.add_argument("--compile-backend", help="the graphs stage's torch.compile backend (default inductor; eager with --cpu --small: dynamo without code generation)")
    p.add_argument("--cpu-workers", action="store_true", help="only the two-CPU-workers benchmark (ViT-B/32, concurrency 8)")
    p.add_argument("--rounds", type=int, default=2, help="--cpu-workers: interleaved rounds")
    p.add_argument("--budget", type=float, default=300, help="seconds for the whole run; a stage's timeout is cut to what is left (default 300)")
    p.add_argument("--timeout", action="append", default=[], metavar="STAGE=SECONDS", help="a stage's (or a kind's: a, graphs...) own timeout instead of the default")
    p.add_argument("--stages", help="only these stages of the plan, comma-separated (e.g. to rerun graphs:vit-b-32); the other stages' entries in --out are kept")
    p.add_argument("--inject", action="append", default=[], metavar="STAGE=fail|hang", help="make a stage fail or hang (the rehearsal of the partial results)")
    p.add_argument("--out", default=os.path.join(REPO, "test-artifacts", "gpu-bench.json"))
    p.add_argument("--images", default=os.path.join(REPO, "test-artifacts", "gpu-bench-jpegs"), help=argparse.SUPPRESS)
    p.add_argument("--stage", help=argparse.SUPPRESS)  # the child's side: run this one stage
    a = p.parse_args(argv)
    if a.cpu:
        a.device = "cpu"
    a.dtype = a.dtype or ("float32" if a.cpu else "float16")
    a.models = (a.models or ("tiny" if a.small else "vit-l-14-336,vit-b-32")).split(",")
    a.batches = [int(x) for x in (a.batches or ("4,8" if a.small else "16,32,64,128")).split(",")]
    a.seconds = a.seconds or (1.0 if a.small else 3.0)
    a.concurrency = a.concurrency or (8 if a.small else 256)
    a.preprocess_threads = a.preprocess_threads or (1 if a.cpu else max(1, (os.cpu_count() or 2) - 2))
    a.compile_backend = a.compile_backend or ("eager" if a.cpu and a.small else "inductor")
    for spec in a.inject:
        if "=" not in spec or spec.split("=", 1)[1] not in ("fail", "hang"):
            p.error("--inject takes STAGE=fail or STAGE=hang, got %r" % spec)
    a.timeouts = {}
    for spec in a.timeout:
        name, _, secs = spec.partition("=")
        try:
            a.timeouts[name] = float(secs)
        except ValueError:
            p.error("--timeout takes STAGE=SECONDS, got %r" % spec)
    return a, argv


def stage_timeout(a, name):
    kind = name.partition(":")[0]
    return a.timeouts.get(name) or a.timeouts.get(kind) or TIMEOUTS[kind][1 if a.cpu else 0]


def write(a, res):
    """The whole file, atomically: a reader never sees half of it."""
    res["models"] = report.models(res["stages"], a.models)
    res["targets"] = report.targets(res["models"])
    res["seconds"] = round(time.time() - T0, 1)
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    tmp = a.out + ".partial"
    with open(tmp, "w") as f:
        json.dump(res, f, indent=1, default=str)
    os.replace(tmp, a.out)


def run_stage(a, argv, name, timeout):
    """One stage in its own process group; killed with all it started past `timeout`.
    Returns (status, result or error, the last partial result printed or None)."""
    cmd = [sys.executable, "-u", os.path.abspath(__file__)] + argv + ["--stage", name]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=None, text=True, start_new_session=True)
    CURRENT[0] = p
    stages.log("%s: pid %d, timeout %.0f s" % (name, p.pid, timeout))
    timed_out = False
    try:
        out, _ = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        kill_group(p)
        out, _ = p.communicate()  # what it printed before it was killed
    finally:
        kill_group(p)  # whatever it left behind (a server, a worker) goes with it
        CURRENT[0] = None
    lines = [l for l in out.splitlines() if l.startswith(stages.PREFIX)]
    last = json.loads(lines[-1][len(stages.PREFIX):]) if lines else None
    if p.returncode == 0 and last is not None and not timed_out:
        return "ok", last, None
    tail = [l for l in out.splitlines() if not l.startswith(stages.PREFIX)][-15:]
    why = "no result within %.0f s: killed with its children" % timeout if timed_out else "exit status %s: %s" % (p.returncode, "\n".join(tail) or "(see the log above)")
    return ("timeout" if timed_out else "failed"), why, last


def kill_group(p):
    try:
        os.killpg(p.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        p.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass


CURRENT = [None]
T0 = time.time()


def main(argv):
    a, argv = parse(argv)
    if a.stage:
        try:
            stages.run(a, a.stage)
        except Exception as e:  # noqa: BLE001 - the parent records it; the traceback goes to the log
            import traceback

            traceback.print_exc()
            print("%s: %s" % (type(e).__name__, e), flush=True)
            return 1
        return 0

    def interrupted(*_):
        if CURRENT[0] is not None:
            kill_group(CURRENT[0])
        raise SystemExit(143)

    signal.signal(signal.SIGTERM, interrupted)
    names = stages.plan(a)
    if a.stages:
        wanted = a.stages.split(",")
        unknown = [n for n in wanted if n not in names]
        if unknown:
            print("bench.py: --stages %s: not in the plan (%s)" % (", ".join(unknown), ", ".join(names)), file=sys.stderr)
            return 2
        names = [n for n in names if n in wanted]
    os.environ["CLIPQL_BENCH_T0"] = str(T0)
    res = {"device": a.device, "args": {k: v for k, v in vars(a).items() if k not in ("stage", "timeouts")}, "budget": a.budget, "plan": names,
           "stages": {n: {"status": "pending"} for n in names}, "complete": False}
    if a.stages and os.path.isfile(a.out):  # a rerun of some stages: the others' results stay
        with open(a.out) as f:
            res["stages"] = dict(json.load(f).get("stages") or {}, **res["stages"])
    write(a, res)
    stages.log("%d stages, budget %.0f s, results in %s" % (len(names), a.budget, a.out))
    for name in names:
        left = a.budget - (time.time() - T0)
        timeout = min(stage_timeout(a, name), left)
        if timeout < MIN_STAGE:
            res["stages"][name] = {"status": "skipped", "error": "past the %.0f s budget" % a.budget}
            stages.log("SKIPPED %s: past the budget" % name)
            write(a, res)
            continue
        res["stages"][name] = {"status": "running", "timeout": round(timeout, 1)}
        write(a, res)
        t = time.time()
        try:
            status, value, part = run_stage(a, argv, name, timeout)
        except SystemExit:
            res["stages"][name] = {"status": "interrupted", "seconds": round(time.time() - t, 1)}
            write(a, res)
            raise
        entry = {"status": status, "seconds": round(time.time() - t, 1), "timeout": round(timeout, 1)}
        entry["result" if status == "ok" else "error"] = value
        if part is not None:
            entry["partial"] = part  # what the stage had measured when it stopped
        res["stages"][name] = entry
        if name == "env" and status == "ok":
            res["device"], res["torch"] = value["device"], value["torch"]
        stages.log("%s %s in %.1f s%s" % (name, status.upper() if status != "ok" else "ok", entry["seconds"], "" if status == "ok" else ": " + str(value).splitlines()[0]))
        write(a, res)
    res["complete"] = True
    write(a, res)
    report.show(res)
    stages.log("wrote %s" % a.out)
    return 0 if all(s["status"] == "ok" for s in res["stages"].values()) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
