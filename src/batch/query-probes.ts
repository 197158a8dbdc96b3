/**
 * The probes of query images (their sha256 and header facts, preprocess/image/probe.ts) as the
 * API asks for them: the embedding cache's key comes first, and the trips to a preprocessing
 * thread are as few as the cache allows.
 *
 *   - An image seen before (the cache-hit path): no trip. With the embedding cache on, an image
 *     of at most MAIN_THREAD_HASH_BYTES is hashed on the calling (main) thread and its probe is
 *     remembered by sha256, as many as the embedding cache holds. Only successful probes are
 *     remembered; they were checked against the pipeline's decode limits, which do not change.
 *   - An image not seen before that the request will embed (`crop`): one trip that returns its
 *     probe and its crop together (probeAndCrop), instead of a probe and then a decode. The cache
 *     cannot hold its embedding, so the decode is not wasted. Requests sending the same unseen
 *     image at once share that trip and its crop.
 *   - A large image with the cache on is probed alone (it may be cached: only its hash would
 *     tell, and it is not hashed on the main thread), then decoded only if the cache misses.
 */
import { ClipqlError, type ErrorCode } from '../errors';
import type { ImageTransformConfig } from '../preprocess/image/config';
import type { DecodeLimits } from '../preprocess/image/decode';
import type { ImageProbe, ProbedImage } from '../preprocess/image/probe';
import type { PreprocessMode } from '../preprocess/image/transform';
import { hashImage } from '../preprocess/image/work-counts';
import type { PreprocessPool } from '../preprocess/pool';
import { LruCache } from './lru';

/**
 * The largest image hashed on the main thread: sha256 runs at about 1.7 GB/s here (0.04 ms for a
 * 55 KB JPEG, 0.24 ms for 400 KB), about what a trip to a preprocessing thread costs the main
 * thread for a small image; larger images are hashed on the thread, so that a photo's bytes
 * stay off the event loop.
 */
export const MAIN_THREAD_HASH_BYTES = 256 * 1024;

/** How the caller will decode the image: the queries' transform and mode (PIL's pixels, no orientation). */
export interface CropSpec {
  readonly cfg: ImageTransformConfig;
  readonly mode: PreprocessMode;
  /**
   * The request's deadline: past it, the trip still waiting for a thread is dropped (TIMEOUT).
   * Not its abort: the trip may be shared by requests sending the same image, and one client
   * going away must not fail the others (the Embedder's rule, batch/embedder.ts).
   */
  readonly deadline?: number;
}

export class QueryProbes {
  private readonly known: LruCache<string, ImageProbe>;
  /** Probes with their crop in flight, by sha256. */
  private readonly cropping = new Map<string, Promise<{ probe: ProbedImage; crop: PendingCrop }>>();

  /** `capacity`: the embedding cache's size (0: the cache is off, nothing is remembered). */
  constructor(
    private readonly pool: PreprocessPool,
    private readonly limits: DecodeLimits,
    capacity: number,
  ) {
    this.known = new LruCache(capacity);
  }

  /** The probe of `bytes`; with `crop`, an unseen image's crop too (see the header). */
  async probe(bytes: Uint8Array, crop?: CropSpec): Promise<ImageProbe & { crop?: PendingCrop }> {
    const memo = this.known.capacity > 0;
    const sha256 = memo && bytes.length <= MAIN_THREAD_HASH_BYTES ? hashImage(bytes) : undefined;
    if (sha256 !== undefined) {
      const known = this.known.get(sha256);
      if (known) return known;
    }
    if (!crop || (memo && sha256 === undefined)) {
      const probe = await this.pool.probe(bytes, this.limits, sha256);
      if (sha256 !== undefined) this.remember(probe);
      return probe;
    }
    // The Embedder shares one embedding between such requests: whichever request's pixels() it
    // asks for first takes the crop.
    let shared = sha256 === undefined ? undefined : this.cropping.get(sha256);
    if (!shared) {
      shared = this.pool.probeAndCrop(bytes, crop.cfg, crop.mode, this.limits, sha256, { deadline: crop.deadline }).then((p) => ({ probe: p, crop: new PendingCrop(p) }));
      if (sha256 !== undefined) {
        const forget = () => this.cropping.delete(sha256);
        this.cropping.set(sha256, shared);
        shared.then(forget, forget);
      }
    }
    const { probe, crop: pending } = await shared;
    if (sha256 !== undefined) this.remember(probe);
    return { sha256: probe.sha256, width: probe.width, height: probe.height, format: probe.format, mode: probe.mode, crop: pending };
  }

  private remember(p: ImageProbe): void {
    this.known.set(p.sha256, Object.freeze({ sha256: p.sha256, width: p.width, height: p.height, format: p.format, mode: p.mode }));
  }
}

/**
 * The crop that came back with an image's probe, or why decoding failed: taken once, since the
 * backend takes the buffer (transferred to its thread); after that, `take` answers undefined and
 * the caller decodes again (another backend, a later request).
 */
export class PendingCrop {
  private result?: Pick<ProbedImage, 'pixels' | 'pixelError'>;

  constructor(result: Pick<ProbedImage, 'pixels' | 'pixelError'>) {
    this.result = result;
  }

  /** The pixels, a rejection with the decode's error, or undefined once taken. */
  take(): Promise<Uint8Array> | undefined {
    const r = this.result;
    this.result = undefined;
    if (!r) return undefined;
    if (r.pixels) return Promise.resolve(r.pixels);
    const e = r.pixelError!;
    return Promise.reject(new ClipqlError(e.code as ErrorCode, e.message, { details: e.details }));
  }
}
