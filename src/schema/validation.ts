/**
 * Query cost limits as graphql-js validation rules (small pure functions, like graphql-js's own):
 * a maximum selection depth and a maximum number of fields per operation, aliases and fragment
 * spreads expanded. Together they bound what one request can ask for (e.g. 500 aliased copies of
 * `similarity`). Apollo answers validation failures with code GRAPHQL_VALIDATION_FAILED and HTTP 400;
 * `extensions.limit` carries the limit.
 */
import { GraphQLError, Kind, type FragmentDefinitionNode, type SelectionSetNode, type ValidationContext, type ValidationRule } from 'graphql';

interface Cost {
  depth: number;
  fields: number;
}

function measure(set: SelectionSetNode, fragments: Record<string, FragmentDefinitionNode>, seen: Set<string>, depth: number, limit: Cost, acc: Cost): void {
  acc.depth = Math.max(acc.depth, depth);
  for (const sel of set.selections) {
    if (acc.fields > limit.fields || acc.depth > limit.depth) return; // already over: stop early
    if (sel.kind === Kind.FIELD) {
      acc.fields++;
      if (sel.selectionSet) measure(sel.selectionSet, fragments, seen, depth + 1, limit, acc);
    } else if (sel.kind === Kind.INLINE_FRAGMENT) {
      measure(sel.selectionSet, fragments, seen, depth, limit, acc);
    } else {
      const f = fragments[sel.name.value];
      if (f && !seen.has(f.name.value)) {
        seen.add(f.name.value);
        measure(f.selectionSet, fragments, seen, depth, limit, acc);
        seen.delete(f.name.value);
      }
    }
  }
}

export function costLimitRule(maxDepth: number, maxFields: number): ValidationRule {
  return (context: ValidationContext) => ({
    OperationDefinition(op) {
      const fragments: Record<string, FragmentDefinitionNode> = {};
      for (const d of context.getDocument().definitions) if (d.kind === Kind.FRAGMENT_DEFINITION) fragments[d.name.value] = d;
      const acc: Cost = { depth: 0, fields: 0 };
      measure(op.selectionSet, fragments, new Set(), 1, { depth: maxDepth, fields: maxFields }, acc);
      if (acc.depth > maxDepth) {
        context.reportError(new GraphQLError(`query is nested ${acc.depth} levels deep; at most ${maxDepth} are allowed`, { nodes: [op], extensions: { limit: maxDepth } }));
      }
      if (acc.fields > maxFields) {
        context.reportError(new GraphQLError(`query selects more than ${maxFields} fields (aliases and fragments counted); at most ${maxFields} are allowed`, { nodes: [op], extensions: { limit: maxFields } }));
      }
    },
  });
}
