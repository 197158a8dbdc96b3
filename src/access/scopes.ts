/**
 * What an API key may do (its line in CLIP_API_KEYS_FILE, api-keys.ts): a set of actions, the
 * collections its collection operations may touch, and when it expires.
 *
 *   actions=read+write      read: every query (similarity, classify, embeddings, search, the
 *                           listings of collections and models) and /v1;
 *                           write: createCollection, addImages, deleteItems;
 *                           admin: dropCollection and anything that changes the server;
 *                           metrics: GET /metrics (admin may read it too).
 *                           The actions are a set: none implies another (an indexer needs read+write).
 *   collections=photos+demo-*   names, or prefixes ending in `*` (`*` alone: all); absent: all.
 *   expires=2027-01-01      an ISO date (00:00 UTC that day) or date-time with a zone
 *                           (2027-01-01T12:00:00Z, +02:00): from then on the key is refused (401).
 *
 * A key without `actions` has every action (as before scopes existed); the server names such keys
 * in a warning at start and at each reload. The checks against a request's needs happen in one
 * place: `refusal` below, called through the access gate (access.ts) for GraphQL's root fields
 * (schema/field-scopes.ts lists what each needs), /v1 and /metrics.
 */
import { ClipqlError, ErrorCode } from '../errors';

export const ACTIONS = ['read', 'write', 'admin', 'metrics'] as const;
export type Action = (typeof ACTIONS)[number];

export interface KeyScopes {
  /** The actions the key may take; every one when the line names none (`explicit` false). */
  readonly actions: ReadonlySet<Action>;
  /** False for a line without `actions=` (full access, warned about at start). */
  readonly explicit: boolean;
  /** Names and `prefix*` patterns; undefined: every collection. */
  readonly collections?: readonly string[];
  /** Epoch ms from which the key is refused; undefined: never. */
  readonly expiresAt?: number;
}

/** What one part of a request needs: an action, and the collection it touches if any. */
export interface Need {
  readonly action: Action;
  /** What asks, for the message: "Mutation.dropCollection", "POST /v1/embeddings". */
  readonly what: string;
  readonly collection?: string;
}

export const FULL_ACCESS: KeyScopes = { actions: new Set(ACTIONS), explicit: false };

const PATTERN = /^(\*|[A-Za-z0-9][A-Za-z0-9_.-]*\*?)$/;
const DATE = /^\d{4}-\d{2}-\d{2}$/;
const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/;

/** `actions=` value; throws a message for the line's error. */
export function parseActions(value: string): ReadonlySet<Action> {
  const parts = value.split('+').map((s) => s.trim());
  for (const p of parts) if (!(ACTIONS as readonly string[]).includes(p)) throw new Error(`unknown action ${JSON.stringify(p)}: actions are ${ACTIONS.join(', ')}, joined by +`);
  return new Set(parts as Action[]);
}

/** `collections=` value. */
export function parseCollections(value: string): readonly string[] {
  const parts = value.split('+').map((s) => s.trim());
  for (const p of parts) if (!PATTERN.test(p)) throw new Error(`bad collection ${JSON.stringify(p)}: a collection name, or a prefix ending in * (* alone: all), joined by +`);
  return parts;
}

/** `expires=` value: epoch ms. A date-time must carry its zone: a local time would move with the server's. */
export function parseExpiry(value: string): number {
  const [y, m, d] = value.slice(0, 10).split('-').map(Number);
  // Date.parse rolls 2027-02-31 over to March: the day must exist.
  const real = new Date(Date.UTC(y, m - 1, d)).getUTCDate() === d;
  const t = real && (DATE.test(value) || DATE_TIME.test(value)) ? Date.parse(value) : NaN;
  if (!Number.isFinite(t)) throw new Error(`bad expiry ${JSON.stringify(value)}: an ISO date (2027-01-01) or a date-time with its zone (2027-01-01T12:00:00Z)`);
  return t;
}

export function collectionAllowed(scopes: KeyScopes, name: string): boolean {
  const patterns = scopes.collections;
  if (patterns === undefined) return true;
  return patterns.some((p) => (p.endsWith('*') ? name.startsWith(p.slice(0, -1)) : name === p));
}

/**
 * The refusal of `needs` for the key `keyName`, or undefined when the key has every action and
 * collection they name. One error for the whole request, naming everything missing (FORBIDDEN,
 * HTTP 403), with `details.actions` and `details.collections` for clients.
 */
export function refusal(keyName: string, scopes: KeyScopes, needs: readonly Need[]): ClipqlError | undefined {
  const actions = new Map<Action, string[]>();
  const collections = new Map<string, string[]>();
  for (const n of needs) {
    if (!has(scopes, n.action)) push(actions, n.action, n.what);
    else if (n.collection !== undefined && !collectionAllowed(scopes, n.collection)) push(collections, n.collection, n.what);
  }
  if (actions.size === 0 && collections.size === 0) return undefined;
  const parts = [
    ...[...actions].map(([a, what]) => `the action ${a} (${unique(what)})`),
    ...[...collections].map(([c, what]) => `the collection ${JSON.stringify(c)} (${unique(what)})`),
  ];
  const holds = `it may ${[...scopes.actions].join('+') || 'do nothing'}${scopes.collections ? ` on collections ${scopes.collections.join('+')}` : ''}`;
  return new ClipqlError(ErrorCode.FORBIDDEN, `the API key ${keyName} lacks ${parts.join(', ')}: ${holds}; nothing was run`, {
    details: { ...(actions.size ? { actions: [...actions.keys()] } : {}), ...(collections.size ? { collections: [...collections.keys()] } : {}) },
  });
}

/** Whether the key has `action`; admin covers metrics. */
export function has(scopes: KeyScopes, action: Action): boolean {
  return scopes.actions.has(action) || (action === 'metrics' && scopes.actions.has('admin'));
}

function push<K>(m: Map<K, string[]>, k: K, v: string): void {
  const list = m.get(k);
  if (list) list.push(v);
  else m.set(k, [v]);
}

const unique = (xs: string[]) => [...new Set(xs)].join(', ');
