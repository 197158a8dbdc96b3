/**
 * How often this thread has hashed and decoded an image: the evidence for "one read, one hash,
 * one decode per image" (test/indexer/camera-roll.test.ts counts them with preprocessing inline,
 * on the test's own thread). Every sha256 of image bytes goes through `hashImage`, and every
 * pixel decode (sharp's pipelines, libheif's) calls `countWork('decodes')`. Reading a header is
 * not a decode. Per thread (each worker has its own module); diagnostics only, never a decision.
 */
import { createHash } from 'node:crypto';

export interface ImageWork {
  hashes: number;
  decodes: number;
}

const work: ImageWork = { hashes: 0, decodes: 0 };

export function countWork(kind: keyof ImageWork): void {
  work[kind]++;
}

/** A copy of this thread's counts so far. */
export function imageWorkCounts(): ImageWork {
  return { ...work };
}

/** sha256 of image bytes, hex: the content key of caches, collections and the indexer. */
export function hashImage(bytes: Uint8Array): string {
  work.hashes++;
  return createHash('sha256').update(bytes).digest('hex');
}
