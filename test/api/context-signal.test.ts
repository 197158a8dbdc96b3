/**
 * The request context's AbortSignal is made on first use (schema/context.ts), also in the copy
 * Apollo makes of the context for each operation (its cloneObject: Object.assign onto an object
 * with the same prototype, which calls own getters).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_LIMITS } from '../../src/input/limits';
import type { ClipPipeline } from '../../src/pipeline';
import { createContext } from '../../src/schema/context';
import { ServedModels } from '../../src/served-models';

test("Apollo's copy of a context does not make the signal; reading it there does, once", () => {
  const models = new ServedModels([{ name: 'm', pipeline: {} as ClipPipeline, dir: '/nowhere' } as never]);
  let made = 0;
  const controller = new AbortController();
  const ctx = createContext(models, DEFAULT_LIMITS, () => {
    made++;
    return controller.signal;
  });
  const copy = Object.assign(Object.create(Object.getPrototypeOf(ctx) as object) as object, ctx) as typeof ctx; // ApolloServer.ts cloneObject
  assert.equal(made, 0, 'copying the context made no signal');
  assert.equal(copy.signal, controller.signal);
  assert.equal(copy.forModel().signal, controller.signal);
  assert.equal(copy.model.name, 'm');
  assert.ok(made >= 1);
});
