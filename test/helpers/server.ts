/**
 * Real servers for end-to-end tests: in-process (startService on port 0) or as a child process
 * (`node dist/src/server/main.js`, for signals and crashes).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { parseConfig } from '../../src/config/config';
import { createLogger } from '../../src/server/log';
import { startService, type Service } from '../../src/server/service';
import { REPO_ROOT, TINY_MODEL_DIR } from '../../src/paths';
import { BPE_VOCAB } from './shared';

/** An in-process service on the tiny model (or `modelDir`); CLIP_MODELS in `env` serves several instead. */
export async function startTestService(env: Record<string, string> = {}, modelDir = TINY_MODEL_DIR): Promise<Service> {
  const { config } = parseConfig({ LOG_LEVEL: 'silent', CLIP_VOCAB: BPE_VOCAB(), ...env });
  return startService({ models: config.CLIP_MODELS ?? [{ name: '', dir: modelDir }], backend: config.CLIP_BACKEND, port: 0, host: '127.0.0.1', config, log: createLogger(config.LOG_LEVEL) });
}

export interface ChildServer {
  readonly url: string;
  readonly child: ChildProcess;
  readonly logs: string[];
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Starts `node dist/src/server/main.js` and resolves once it logs "listening" (and is ready). */
export function startChildServer(env: Record<string, string> = {}, timeoutMs = 60_000): Promise<ChildServer> {
  // An empty value here means "unset it" (the server itself refuses empty values: exit status 2).
  const childEnv: Record<string, string | undefined> = { ...process.env, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info', CLIP_VOCAB: BPE_VOCAB(), CLIP_MODEL: TINY_MODEL_DIR, ...env };
  for (const k of Object.keys(childEnv)) if (childEnv[k] === '') delete childEnv[k];
  const child = spawn(process.execPath, [path.join(REPO_ROOT, 'dist', 'src', 'server', 'main.js')], {
    env: childEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: string[] = [];
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`server did not start in ${timeoutMs} ms:\n${logs.join('\n')}`));
    }, timeoutMs);
    let buf = '';
    const onData = (d: Buffer) => {
      buf += d.toString();
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        logs.push(line);
        if (line.includes('"msg":"listening"')) {
          clearTimeout(timer);
          const port = (JSON.parse(line) as { port: number }).port;
          resolve({
            url: `http://127.0.0.1:${port}`,
            child,
            logs,
            stop: (signal = 'SIGTERM') =>
              new Promise((res) => {
                if (child.exitCode !== null) return res(child.exitCode);
                child.once('exit', (code) => res(code));
                child.kill(signal);
              }),
          });
        }
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (d: Buffer) => logs.push(d.toString()));
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code} before listening:\n${logs.join('\n')}`));
    });
  });
}

/** POST a GraphQL request (with extra headers, such as an API key's); returns status and parsed body. */
export async function gql(url: string, query: string, variables: Record<string, unknown> = {}, headers: Record<string, string> = {}): Promise<{ status: number; body: { data?: any; errors?: any[] } }> {
  const res = await fetch(`${url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ query, variables }) });
  const text = await res.text();
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    body = { errors: [{ message: text }] };
  }
  return { status: res.status, body };
}
