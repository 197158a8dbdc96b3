/**
 * The torch workers' fork server (fork_server.py, fork_client.py, fork-server.ts), with real
 * processes on the CPU (the project's venv):
 * - a worker forked from it answers bit for bit as a worker started as its own python
 *   (CLIP_TORCH_FORK_SERVER=0), and its parent is the fork server;
 * - a restart forks again from the same fork server (torch is not imported again);
 * - the fork server killed: its worker dies with it, the backend restarts the worker through a new
 *   fork server, and serves;
 * - a disposed backend leaves no worker behind;
 * - the process the backend spawns (fork_client.py) stands for the forked program: its stdin and
 *   stdout, its exit status, the signal that ended it, a SIGTERM forwarded to it;
 * - stopForkServers (a process's last step of shutdown) ends the fork server and reaps it here.
 * Processes are read from /proc (Linux), independently of what the backend reports about them.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { launcher, stopForkServers } from '../../src/backends/torch/fork-server';
import { DEFAULT_WORKER_SCRIPT } from '../../src/backends/torch/settings';
import type { TorchBackend } from '../../src/backends/torch/torch-backend';
import { loadBundle, type ModelBundle } from '../../src/bundle/bundle';
import { TINY_MODEL_DIR, defaultBpeVocab } from '../../src/paths';
import { randomCrops, tokenBatch, torchBackend } from '../helpers/torch';
import { venvPython } from '../helpers/python';
import { waitFor } from '../helpers/wait';

/** The parent pid of `pid`, and its command line, from /proc. */
function parentOf(pid: number): { ppid: number; cmdline: string } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  return { ppid, cmdline: readFileSync(`/proc/${ppid}/cmdline`, 'utf8').split('\0').join(' ') };
}

function alive(pid: number): boolean {
  try {
    // A zombie still answers kill(0); its state in /proc says it is dead.
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

const workerPid = (b: TorchBackend) => Number(b.describe().details['worker0.pid']);

let bundle: ModelBundle;
before(async () => {
  bundle = await loadBundle(TINY_MODEL_DIR, { bpeVocab: defaultBpeVocab() });
});

describe('the torch fork server', () => {
  const env = { CLIP_TORCH_PYTHON: venvPython(), CLIP_TORCH_THREADS: '1', CLIP_TORCH_START_TIMEOUT_MS: '60000' };
  let forked: TorchBackend;
  before(async () => {
    forked = torchBackend(bundle, env);
    await forked.init();
  });
  after(() => forked.dispose());

  test('a forked worker is a child of the fork server and answers bit for bit as a worker started on its own', async () => {
    const { cmdline } = parentOf(workerPid(forked));
    assert.match(cmdline, /fork_server\.py/);
    const direct = torchBackend(bundle, { ...env, CLIP_TORCH_FORK_SERVER: '0' });
    try {
      await direct.init();
      assert.doesNotMatch(parentOf(workerPid(direct)).cmdline, /fork_server\.py/, 'CLIP_TORCH_FORK_SERVER=0: the worker is our own child');
      const crops = () => randomCrops(bundle.imageSize, 3, 7);
      const tokens = tokenBatch(bundle.contextLength);
      const [a, b] = await Promise.all([forked.encodeImages(crops()), direct.encodeImages(crops())]);
      assert.deepEqual(Buffer.from(a.data.buffer, a.data.byteOffset, a.data.byteLength), Buffer.from(b.data.buffer, b.data.byteOffset, b.data.byteLength));
      const [c, d] = await Promise.all([forked.encodeTexts(tokens), direct.encodeTexts(tokens)]);
      assert.deepEqual(Buffer.from(c.data.buffer, c.data.byteOffset, c.data.byteLength), Buffer.from(d.data.buffer, d.data.byteOffset, d.data.byteLength));
    } finally {
      await direct.dispose();
    }
  });

  test('a killed worker is restarted by a fork from the same fork server', async () => {
    const victim = workerPid(forked);
    const server = parentOf(victim).ppid;
    process.kill(victim, 'SIGKILL');
    await waitFor('the worker restarted', () => workerPid(forked) !== victim && forked.describe().details['worker0.state'] === 'ready', 30_000);
    assert.equal(parentOf(workerPid(forked)).ppid, server, 'forked by the same fork server');
    assert.equal(alive(victim), false);
    const out = await forked.encodeImages(randomCrops(bundle.imageSize, 1, 1));
    assert.equal(out.count, 1);
  });

  test('the fork server killed: its worker dies with it, and the restart goes through a new fork server', async () => {
    const victim = workerPid(forked);
    const server = parentOf(victim).ppid;
    process.kill(server, 'SIGKILL');
    await waitFor('the worker died with its fork server', () => !alive(victim), 10_000);
    await waitFor('the worker restarted', () => workerPid(forked) !== victim && forked.describe().details['worker0.state'] === 'ready', 30_000);
    const now = parentOf(workerPid(forked));
    assert.notEqual(now.ppid, server);
    assert.match(now.cmdline, /fork_server\.py/);
    const out = await forked.encodeTexts(tokenBatch(bundle.contextLength));
    assert.equal(out.count, tokenBatch(bundle.contextLength).count);
  });

  test('dispose leaves no worker behind', async () => {
    const b = torchBackend(bundle, env);
    await b.init();
    const pid = workerPid(b);
    await b.dispose();
    assert.equal(alive(pid), false);
  });

  test('the client stands for the forked program: stdio, exit status, the signal that ended it, SIGTERM forwarded', async () => {
    // The backend's fork server (same interpreter, same environment apart from CLIP_*): no new one.
    const how = await launcher(venvPython(), DEFAULT_WORKER_SCRIPT, { ...process.env, PYTHONUNBUFFERED: '1' }, 60_000);
    assert.equal(how.forked, true);
    const dir = mkdtempSync(path.join(os.tmpdir(), 'clipql-fork-'));
    try {
      const script = path.join(dir, 'probe.py');
      writeFileSync(script, [
        'import os, signal, sys, time',
        'mode = sys.argv[1]',
        'if mode == "echo": sys.stdout.write(sys.stdin.read().upper() + os.environ["PROBE"]); sys.exit(3)',
        'if mode in ("TERM", "KILL"): os.kill(os.getpid(), getattr(signal, "SIG" + mode))',
        'if mode == "wait": sys.stdout.write("waiting\\n"); sys.stdout.flush(); time.sleep(60)',
      ].join('\n'));
      const run = (mode: string) => spawnSync(how.command, [...how.args, script, mode], { input: 'abc', encoding: 'utf8', env: { ...process.env, PROBE: '!' }, timeout: 30_000 });
      const echo = run('echo');
      assert.deepEqual([echo.stdout, echo.status, echo.signal], ['ABC!', 3, null], echo.stderr);
      assert.equal(run('TERM').signal, 'SIGTERM');
      assert.equal(run('KILL').signal, 'SIGKILL');
      const child = spawn(how.command, [...how.args, script, 'wait'], { stdio: ['ignore', 'pipe', 'inherit'] });
      await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
      const ended = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, sig) => resolve(sig)));
      child.kill('SIGTERM');
      assert.equal(await ended, 'SIGTERM', 'forwarded, and the forked program ended by it');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('stopForkServers ends the fork server and this process reaps it: no process, not even a zombie, is left', async () => {
    const worker = workerPid(forked);
    const server = parentOf(worker).ppid;
    await forked.dispose();
    await stopForkServers();
    assert.equal(existsSync(`/proc/${server}`), false, `fork server ${server} reaped`);
    assert.equal(alive(worker), false);
  });
});
