"""
(c) end to end: clipql's server (`node dist/src/server/main.js`, CLIP_BACKEND=torch) on a free
loopback port, loaded by dist/scripts/gpu-bench/e2e.js (autocannon, multipart uploads of
distinct 640 x 480 JPEGs), and the per-thread preprocessing rate of the same JPEGs (e2e.js
preprocess). Both need `npm run build` first (tsc compiles scripts/**/*.ts into dist/scripts).
"""
import json
import os
import subprocess
import sys
import threading
import time

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
MAIN = os.path.join(REPO, "dist", "src", "server", "main.js")
E2E = os.path.join(REPO, "dist", "scripts", "gpu-bench", "e2e.js")


# Packages the server and e2e.js load, beyond package.json's dependencies: autocannon (a
# devDependency) drives the load. onnxruntime-node (288 MB, every platform's binaries) is left
# out: only the onnx backend's worker threads load it, and CLIP_BACKEND=torch starts none, so a
# GPU machine can run this with the production dependencies less onnxruntime (docs/rocm.md).
EXTRA, NOT_NEEDED = ("autocannon",), ("onnxruntime-node",)
# Asks node itself, from the repository, where each package would resolve (require.resolve.paths
# plus the folder's package.json: a package's "exports" may hide its package.json from require).
PROBE = """
const fs = require('fs'), path = require('path');
const [pkgFile, skip, extra] = [process.argv[1], process.argv[2].split(','), process.argv[3].split(',')];
const names = Object.keys(require(pkgFile).dependencies || {}).filter((d) => !skip.includes(d)).concat(extra);
const missing = names.filter((d) => !(require.resolve.paths(d) || []).some((p) => fs.existsSync(path.join(p, d, 'package.json'))));
console.log(JSON.stringify({ node: process.versions.node, missing }));
"""


def missing(node):
    """Why the end-to-end stages cannot run, or None: no node 20+, no build, or packages that
    the server or the load generator need and that are not installed (node_modules does not
    travel to a GPU machine: 672 MB with the dev dependencies)."""
    import shutil

    if not (os.path.isabs(node) and os.access(node, os.X_OK)) and shutil.which(node) is None:
        return "no node (%s) on this machine: pass --node PATH to a Node.js 20+ binary" % node
    for f in (MAIN, E2E):
        if not os.path.isfile(f):
            return "%s is missing: run `npm run build` first" % os.path.relpath(f, REPO)
    try:
        p = subprocess.run([node, "-e", PROBE, os.path.join(REPO, "package.json"), ",".join(NOT_NEEDED), ",".join(EXTRA)], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=60)
        found = json.loads(p.stdout.strip().splitlines()[-1])
    except (OSError, subprocess.TimeoutExpired, ValueError, IndexError) as e:
        return "%s could not be asked which packages it finds (%s)" % (node, e)
    if int(found["node"].split(".")[0]) < 20:
        return "%s is Node.js %s; the server needs 20 or later" % (node, found["node"])
    if found["missing"]:
        return "node_modules lacks %s: run `npm ci --omit=dev && npm i --no-save autocannon` (onnxruntime-node is not needed with the torch backend)" % ", ".join(found["missing"])
    return None


def result_line(text):
    lines = [l for l in text.splitlines() if l.startswith("RESULT ")]
    if not lines:
        raise RuntimeError("no RESULT line in: %s" % text[-1500:])
    return json.loads(lines[-1][7:])


class Server:
    """The server in a child process; its stdout (pino JSON lines) is drained by a thread, so
    that a full pipe never stalls it; start-up waits for the "listening" line."""

    def __init__(self, node, bundle, env, timeout=600):
        full = dict(os.environ, LOG_LEVEL="info", CLIP_AUTO_FETCH="0", CLIP_BACKEND="torch", CLIP_TORCH_PYTHON=sys.executable, **env)
        full.update(CLIP_MODEL=bundle, PORT="0", HOST="127.0.0.1")
        self.proc = subprocess.Popen([node, MAIN], cwd=REPO, env=full, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.tail, self.port = [], None
        started = threading.Event()

        def drain():
            for line in self.proc.stdout:
                self.tail = (self.tail + [line])[-40:]
                if self.port is None and '"listening"' in line:
                    try:
                        self.port = json.loads(line)["port"]
                    except (ValueError, KeyError):
                        continue
                    started.set()
            started.set()

        threading.Thread(target=drain, daemon=True).start()
        started.wait(timeout)
        if self.port is None:
            self.stop()
            raise RuntimeError("the server did not start: %s" % "".join(self.tail)[-2000:])
        self.url = "http://127.0.0.1:%d" % self.port

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def load(node, url, images, concurrency, seconds, warmup, per_request=1, amount=0, warmup_amount=0):
    argv = [node, E2E, "load", "--url", url, "--images", images, "--concurrency", str(concurrency), "--seconds", str(seconds), "--warmup", str(warmup), "--per-request", str(per_request)]
    argv += ["--amount", str(amount), "--warmup-amount", str(warmup_amount)]
    p = subprocess.run(argv, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=seconds + warmup + 1800)
    sys.stderr.write(p.stderr)
    if p.returncode != 0:
        raise RuntimeError("e2e.js load failed (%d): %s" % (p.returncode, p.stderr[-1500:]))
    return result_line(p.stdout)


def preprocess_rate(node, bundle, images, seconds):
    p = subprocess.run([node, E2E, "preprocess", "--model", bundle, "--images", images, "--seconds", str(seconds)], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=seconds + 120)
    sys.stderr.write(p.stderr)
    if p.returncode != 0:
        raise RuntimeError("e2e.js preprocess failed (%d): %s" % (p.returncode, p.stderr[-1500:]))
    return result_line(p.stdout)


def end_to_end(node, bundle, images, env, concurrency, seconds, warmup, per_request, log):
    t0 = time.time()
    server = Server(node, bundle, env)
    log("(c) server up in %.0f s at %s (%s)" % (time.time() - t0, server.url, " ".join("%s=%s" % kv for kv in sorted(env.items()))))
    try:
        out = load(node, server.url, images, concurrency, seconds, warmup, per_request)
    finally:
        server.stop()
    out["env"] = env
    return out


def cpu_workers(node, bundle, images, rounds, amount, concurrency, max_batch, log):
    """One CPU worker against two (CLIP_TORCH_DEVICES=cpu vs cpu,cpu, CLIP_TORCH_THREADS=1), both
    servers up at once (idle workers cost no CPU), measured in interleaved rounds, as a ratio.
    CLIP_TORCH_MAX_BATCH is the same small size for both, so that the batcher makes batches
    enough for two workers at this concurrency (with 32, all 8 requests are one batch). Rounds
    are counted in requests (`amount`, after a warm-up of one request per connection), so that
    no slow request outlives its round and steals the next round's cores."""
    common = {"CLIP_TORCH_THREADS": "1", "CLIP_TORCH_MAX_BATCH": str(max_batch), "CLIP_PREPROCESS_THREADS": "1", "CLIP_TORCH_START_TIMEOUT_MS": "600000", "CLIP_TORCH_CALL_TIMEOUT_MS": "600000", "CLIP_REQUEST_TIMEOUT_MS": "600000"}
    servers = {}
    try:
        for name, devices in (("one", "cpu"), ("two", "cpu,cpu")):
            servers[name] = Server(node, bundle, dict(common, CLIP_TORCH_DEVICES=devices))
            log("cpu-workers: %s worker(s) up at %s" % (name, servers[name].url))
        runs = {"one": [], "two": []}
        for r in range(rounds):
            for name in (("one", "two") if r % 2 == 0 else ("two", "one")):
                out = load(node, servers[name].url, images, concurrency, 0, 0, amount=amount, warmup_amount=concurrency)
                runs[name].append(out["imagesPerSecond"])
                log("cpu-workers round %d, %s: %.3f images/s" % (r + 1, name, out["imagesPerSecond"]))
    finally:
        for s in servers.values():
            s.stop()
    one, two = sum(runs["one"]) / rounds, sum(runs["two"]) / rounds
    return {"one": runs["one"], "two": runs["two"], "ratio": two / one if one else None, "roundRatios": [b / a for a, b in zip(runs["one"], runs["two"])], "concurrency": concurrency, "requestsPerRound": amount, "env": common}
