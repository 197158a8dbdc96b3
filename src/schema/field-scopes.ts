/**
 * What each root field of the schema needs of an API key (access/scopes.ts): one table, checked
 * against the built schema by test/serving/scopes.test.ts, so a field added without an entry
 * fails that test (and, should it ship anyway, is treated as needing `admin`: closed by default).
 *
 * `collection` names the argument that holds the collection the field touches; the key's
 * `collections=` must cover it. The collection listing (`Query.collections`) needs read and shows
 * only the key's collections (its resolver filters with the caller's scopes).
 */
import type { DocumentNode, OperationDefinitionNode, SelectionSetNode } from 'graphql';
import type { Action, Need } from '../access/scopes';

export interface FieldScope {
  readonly action: Action;
  readonly collection?: string;
}

export const FIELD_SCOPES: Readonly<Record<string, FieldScope>> = {
  'Query.similarity': { action: 'read' },
  'Query.classify': { action: 'read' },
  'Query.embedImages': { action: 'read' },
  'Query.embedCaptions': { action: 'read' },
  'Query.compareBackends': { action: 'read' },
  'Query.backends': { action: 'read' },
  'Query.models': { action: 'read' },
  'Query.collections': { action: 'read' },
  'Query.search': { action: 'read', collection: 'collection' },
  'Query.duplicates': { action: 'read', collection: 'collection' },
  'Query.itemDigests': { action: 'read', collection: 'collection' },
  'Mutation.createCollection': { action: 'write', collection: 'name' },
  'Mutation.addImages': { action: 'write', collection: 'collection' },
  'Mutation.deleteItems': { action: 'write', collection: 'collection' },
  'Mutation.dropCollection': { action: 'admin', collection: 'name' },
};

/** A root field of an operation as the table sees it; its collection is a literal or a variable's name. */
interface FieldUse {
  readonly what: string;
  readonly scope: FieldScope;
  readonly literal?: string;
  readonly variable?: string;
}

const ROOT = { query: 'Query', mutation: 'Mutation', subscription: 'Subscription' } as const;
const UNDECLARED: FieldScope = { action: 'admin' };

/**
 * Apollo keeps one parsed DocumentNode per distinct query text, so the walk below runs once per
 * document and operation; a request then only reads its variables.
 */
const uses = new WeakMap<OperationDefinitionNode, readonly FieldUse[]>();

/**
 * What an operation needs: one entry per root field, fragments and inline fragments followed,
 * `@skip`/`@include` ignored (a field that might run counts). Introspection needs nothing. A
 * collection argument that is not a string is left out: execution refuses it as bad input.
 */
export function operationNeeds(document: DocumentNode, operation: OperationDefinitionNode, variables: Readonly<Record<string, unknown>> | undefined): Need[] {
  let list = uses.get(operation);
  if (!list) {
    list = rootFields(document, operation);
    uses.set(operation, list);
  }
  return list.map((u) => {
    const value = u.variable !== undefined ? variables?.[u.variable] : u.literal;
    return { action: u.scope.action, what: u.what, ...(typeof value === 'string' ? { collection: value } : {}) };
  });
}

function rootFields(document: DocumentNode, operation: OperationDefinitionNode): FieldUse[] {
  const type = ROOT[operation.operation];
  const fragments = new Map(document.definitions.flatMap((d) => (d.kind === 'FragmentDefinition' ? [[d.name.value, d.selectionSet] as const] : [])));
  const out: FieldUse[] = [];
  const seen = new Set<string>();
  const walk = (set: SelectionSetNode) => {
    for (const s of set.selections) {
      if (s.kind === 'InlineFragment') walk(s.selectionSet);
      else if (s.kind === 'FragmentSpread') {
        // Validation has refused cycles and unknown fragments before this runs; `seen` is a guard.
        const f = fragments.get(s.name.value);
        if (f && !seen.has(s.name.value)) {
          seen.add(s.name.value);
          walk(f);
        }
      } else if (!s.name.value.startsWith('__')) {
        const what = `${type}.${s.name.value}`;
        const scope = FIELD_SCOPES[what] ?? UNDECLARED;
        const arg = scope.collection === undefined ? undefined : s.arguments?.find((a) => a.name.value === scope.collection)?.value;
        out.push({ what, scope, ...(arg?.kind === 'StringValue' ? { literal: arg.value } : arg?.kind === 'Variable' ? { variable: arg.name.value } : {}) });
      }
    }
  };
  walk(operation.selectionSet);
  return out;
}
