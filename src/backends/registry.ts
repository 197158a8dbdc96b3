/**
 * Backends by name. The registry is an instance (created at start-up, or per test), never a
 * module-global: `defaultRegistry()` returns a fresh one with the built-in backends registered.
 *
 * `get(name)` creates the backend on first use and memoises its `init()` promise, so concurrent
 * callers share one start-up, and a backend that failed to start stays failed (with its reason)
 * instead of being retried on every request. There is no silent fall back: asking for a backend
 * that does not exist or cannot start is an error that names every registered backend.
 */
import { ClipqlError, ErrorCode } from '../errors';
import type { Backend, BackendFactory, BackendOptions } from './backend';
import { createOnnxBackend } from './onnx/onnx-backend';
import { stopForkServers } from './torch/fork-server';
import { createTorchBackend } from './torch/torch-backend';

/**
 * Ends the processes that backends share within this process (the torch fork servers) and waits
 * until they are gone: the last step of a process's shutdown, after every backend is disposed.
 */
export function stopSharedProcesses(): Promise<void> {
  return stopForkServers();
}

interface Entry {
  readonly factory: BackendFactory;
  backend?: Backend;
  ready?: Promise<Backend>;
}

export class BackendRegistry {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly options: BackendOptions) {}

  register(name: string, factory: BackendFactory): this {
    if (!/^[a-z][a-z0-9_-]*$/.test(name)) throw new TypeError(`backend name must match /^[a-z][a-z0-9_-]*$/, got ${JSON.stringify(name)}`);
    if (this.entries.has(name)) throw new TypeError(`backend ${JSON.stringify(name)} is already registered`);
    this.entries.set(name, { factory });
    return this;
  }

  names(): string[] {
    return [...this.entries.keys()];
  }

  /** The backend served when none is named: the first registered (defaultRegistry: onnx, the embedded one). */
  get defaultName(): string {
    const first = this.names()[0];
    if (first === undefined) throw new TypeError('the backend registry is empty');
    return first;
  }

  /** Backends that have been created (started or starting), for Query.backends and shutdown. */
  created(): Backend[] {
    return [...this.entries.values()].flatMap((e) => (e.backend ? [e.backend] : []));
  }

  /**
   * The named backend, created but not necessarily started (describe() works before init: its
   * settings and capacity are known), or undefined when it is unknown or its settings are bad
   * (get() then says why).
   */
  peek(name: string): Backend | undefined {
    const entry = this.entries.get(name);
    if (!entry) return undefined;
    try {
      entry.backend ??= entry.factory(this.options);
    } catch {
      return undefined;
    }
    return entry.backend;
  }

  /** The named backend, initialised. Rejects with BACKEND_UNAVAILABLE for unknown or failed ones. */
  get(name: string): Promise<Backend> {
    const entry = this.entries.get(name);
    if (!entry) {
      return Promise.reject(
        new ClipqlError(ErrorCode.BACKEND_UNAVAILABLE, `unknown backend ${JSON.stringify(name)}; registered: ${this.names().join(', ')}`),
      );
    }
    if (!entry.ready) {
      entry.ready = (async () => {
        const backend = entry.backend ?? entry.factory(this.options);
        entry.backend = backend;
        try {
          await backend.init();
        } catch (e) {
          throw asBackendError(name, e);
        }
        return backend;
      })();
    }
    return entry.ready;
  }

  async disposeAll(): Promise<void> {
    await Promise.allSettled(this.created().map((b) => b.dispose()));
  }
}

function asBackendError(name: string, e: unknown): ClipqlError {
  if (e instanceof ClipqlError && e.code !== ErrorCode.INTERNAL_SERVER_ERROR) return e;
  const reason = e instanceof Error ? e.message : String(e);
  return new ClipqlError(ErrorCode.BACKEND_UNAVAILABLE, `[${name}] failed to start: ${reason}`, { cause: e });
}

/** A fresh registry with the built-in backends. */
export function defaultRegistry(options: BackendOptions): BackendRegistry {
  return new BackendRegistry(options).register('onnx', createOnnxBackend).register('torch', createTorchBackend);
}
