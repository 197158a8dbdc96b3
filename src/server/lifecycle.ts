/**
 * The service's lifecycle as one explicit state, in the manner of Apollo Server's own
 * (ApolloServer.ts): starting → ready → draining → stopped (or starting → stopped when the
 * start fails). Transitions happen in one place, on Apollo's plugin hooks:
 *
 *   serverWillStart  load and warm the default backend, then ready (health turns 200)
 *   drainServer      draining: new requests get 503 while Apollo's drain plugin
 *                    (ApolloServerPluginDrainHttpServer, after this one) closes the listener and
 *                    waits for in-flight requests, cutting them off after CLIP_SHUTDOWN_TIMEOUT_MS
 *   serverWillStop   the batchers and backends are disposed, then stopped
 *
 * Readiness, draining and metrics read `state`; nothing else keeps its own flags.
 */
import type { ApolloServerPlugin } from '@apollo/server';

export type LifecycleState = 'starting' | 'ready' | 'draining' | 'stopped';
export const LIFECYCLE_STATES: readonly LifecycleState[] = ['starting', 'ready', 'draining', 'stopped'];

const NEXT: Record<LifecycleState, readonly LifecycleState[]> = {
  starting: ['ready', 'stopped'],
  ready: ['draining'],
  draining: ['stopped'],
  stopped: [],
};

export interface LifecycleHooks {
  /** Loads and warms what must be up before the service is ready (rejects: the start fails). */
  readonly warm: () => Promise<void>;
  /** Frees everything once in-flight requests are done (or cut off). */
  readonly dispose: () => Promise<void>;
}

export class Lifecycle {
  private current: LifecycleState = 'starting';
  private changedAt = Date.now();

  get state(): LifecycleState {
    return this.current;
  }

  /** Milliseconds since the last transition. */
  get inStateMs(): number {
    return Date.now() - this.changedAt;
  }

  get ready(): boolean {
    return this.current === 'ready';
  }

  /** New requests are refused from the drain on. */
  get refusing(): boolean {
    return this.current === 'draining' || this.current === 'stopped';
  }

  /** The one place the state changes; a transition the diagram lacks is a bug, and throws. */
  to(next: LifecycleState): void {
    if (next === this.current) return;
    if (!NEXT[this.current].includes(next)) throw new Error(`lifecycle: ${this.current} -> ${next} is not a transition`);
    this.current = next;
    this.changedAt = Date.now();
  }

  /** The Apollo plugin that drives the transitions (list it before the drain plugin). */
  plugin(hooks: LifecycleHooks): ApolloServerPlugin {
    return {
      serverWillStart: async () => {
        try {
          await hooks.warm();
        } catch (e) {
          this.to('stopped');
          throw e;
        }
        this.to('ready');
        return {
          drainServer: async () => this.to('draining'),
          serverWillStop: async () => {
            await hooks.dispose();
            this.to('stopped');
          },
        };
      },
    };
  }
}
