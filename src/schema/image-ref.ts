/**
 * An input image inside one request: its bytes, content hash and header facts. For queries,
 * decoding to the crop happens only when an embedding is needed and not cached (pixels()), or,
 * for an image the server has not seen and the request will embed, on the same trip to a thread
 * as its probe (`crop`: pipeline.probeImage); an image to be stored (addImages) is decoded once
 * up front instead, for its crop and thumbnail together (readImageItem: pipeline.prepareItem),
 * and carries that `item`.
 */
import type { CallLimits } from '../control/cancel';
import { ClipqlError, ErrorCode } from '../errors';
import { decodeBase64Image } from '../input/base64';
import { fetchImage } from '../input/fetch';
import type { Limits } from '../input/limits';
import type { PendingCrop } from '../batch/query-probes';
import { itemKey, type ClipPipeline } from '../pipeline';
import type { ImageItem } from '../preprocess/image/image-item';
import type { ImageInput } from './inputs';

export interface ImageFacts {
  readonly width: number;
  readonly height: number;
  readonly format: string;
  readonly mode: string;
}

export class ImageRef {
  constructor(
    readonly bytes: Uint8Array,
    readonly sha256: string,
    readonly facts: ImageFacts,
    private readonly pipeline: ClipPipeline,
    /** A collection item's one decode (readImageItem). */
    readonly item?: ImageItem,
    /** ImageInput.upright: EXIF orientation applied before the crop. */
    readonly upright = false,
    /** The crop (or why it failed) from the probe's trip: taken once, then pixels() decodes. */
    private readonly crop?: PendingCrop,
  ) {}

  /** The embedding cache's key: the bytes' hash, with how the pixels were read when not PIL's way. */
  get key(): string {
    return this.item ? itemKey(this.item) : this.upright ? `${this.sha256}:upright` : this.sha256;
  }

  /** The RGB crop for the backends; `opts`: the deadline and abort under which it is still wanted (see Embedder). */
  pixels(opts?: CallLimits): Promise<Uint8Array> {
    if (this.item) return Promise.resolve(this.item.pixels);
    return this.crop?.take() ?? this.pipeline.imagePixels(this.bytes, opts, this.upright);
  }
}

/**
 * The request's deadline and signal (a RequestContext): the signal is read only by a URL fetch
 * (an AbortSignal costs about 20 µs to make and abort).
 */
export type RequestCall = { readonly deadline: number; readonly signal: AbortSignal };

/**
 * Reads an ImageInput (exactly one of file, base64 and url) and checks its header. `embed`: the
 * request will embed the image (an unseen image's crop then comes with its probe, dropped from
 * the queue once the request's deadline has passed).
 */
export async function readImageInput(input: ImageInput, pipeline: ClipPipeline, limits: Limits, call: RequestCall, embed = false): Promise<ImageRef> {
  const bytes = await readImageBytes(input, limits, call);
  const upright = input.upright === true;
  const { sha256, width, height, format, mode, crop } = await pipeline.probeImage(bytes, embed && !upright, call.deadline);
  return new ImageRef(bytes, sha256, { width, height, format, mode }, pipeline, undefined, upright, crop);
}

/** Reads an image to be stored in a collection: one hash, one decode (pipeline.prepareItem). */
export async function readImageItem(input: ImageInput, pipeline: ClipPipeline, limits: Limits, call: RequestCall): Promise<ImageRef> {
  const bytes = await readImageBytes(input, limits, call);
  const item = await pipeline.prepareItem(bytes);
  return new ImageRef(bytes, item.sha256, { width: item.width, height: item.height, format: item.format, mode: item.mode }, pipeline, item);
}

async function readImageBytes(input: ImageInput, limits: Limits, call: RequestCall): Promise<Uint8Array> {
  const given = [input.file, input.base64, input.url].filter((x) => x !== undefined && x !== null).length;
  if (given !== 1) throw new ClipqlError(ErrorCode.BAD_USER_INPUT, 'give exactly one of file, base64 and url');
  const bytes = input.file
    ? input.file.bytes
    : input.base64 !== undefined && input.base64 !== null
    ? decodeBase64Image(input.base64, limits.maxImageBytes)
    : await fetchImage(input.url!, { timeoutMs: limits.fetchTimeoutMs, maxBytes: limits.maxImageBytes, maxRedirects: limits.fetchMaxRedirects, allowPrivate: limits.allowPrivateUrls, allowHosts: limits.fetchAllowHosts, signal: call.signal });
  if (bytes.length === 0) throw new ClipqlError(ErrorCode.BAD_IMAGE, 'the image is empty (zero bytes)');
  if (bytes.length > limits.maxImageBytes) {
    throw new ClipqlError(ErrorCode.IMAGE_TOO_LARGE, `the image is larger than the limit of ${limits.maxImageBytes} bytes (${bytes.length} bytes)`);
  }
  return bytes;
}

/** Prefixes an error with the argument it came from ("images[2]: ..."), for frontends. */
export function atArgument(e: unknown, argument: string): unknown {
  if (e instanceof ClipqlError) {
    return new ClipqlError(e.code, `${argument}: ${e.message}`, { cause: e.cause, details: { ...e.details, argument } });
  }
  return e;
}
