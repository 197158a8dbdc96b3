/**
 * An input image inside one request: its bytes, content hash and header facts. Decoding to a
 * tensor happens only when an embedding is needed and not cached (ImageRef.tensor()).
 */
import type { CallLimits } from '../control/cancel';
import { ClipqlError, ErrorCode } from '../errors';
import { decodeBase64Image } from '../input/base64';
import { fetchImage } from '../input/fetch';
import type { Limits } from '../input/limits';
import { sha256, type ClipPipeline } from '../pipeline';
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
  ) {}

  /** The RGB crop for the backends; `opts`: the deadline and abort under which it is still wanted (see Embedder). */
  pixels(opts?: CallLimits): Promise<Uint8Array> {
    return this.pipeline.imagePixels(this.bytes, opts);
  }
}

/** Reads an ImageInput (exactly one of file, base64 and url) and checks its header. */
export async function readImageInput(input: ImageInput, pipeline: ClipPipeline, limits: Limits, signal: AbortSignal): Promise<ImageRef> {
  const given = [input.file, input.base64, input.url].filter((x) => x !== undefined && x !== null).length;
  if (given !== 1) throw new ClipqlError(ErrorCode.BAD_USER_INPUT, 'give exactly one of file, base64 and url');
  const bytes = input.file
    ? input.file.bytes
    : input.base64 !== undefined && input.base64 !== null
    ? decodeBase64Image(input.base64, limits.maxImageBytes)
    : await fetchImage(input.url!, { timeoutMs: limits.fetchTimeoutMs, maxBytes: limits.maxImageBytes, maxRedirects: limits.fetchMaxRedirects, allowPrivate: limits.allowPrivateUrls, allowHosts: limits.fetchAllowHosts, signal });
  if (bytes.length === 0) throw new ClipqlError(ErrorCode.BAD_IMAGE, 'the image is empty (zero bytes)');
  if (bytes.length > limits.maxImageBytes) {
    throw new ClipqlError(ErrorCode.IMAGE_TOO_LARGE, `the image is larger than the limit of ${limits.maxImageBytes} bytes (${bytes.length} bytes)`);
  }
  const { sha256, ...facts } = await pipeline.probeImage(bytes);
  return new ImageRef(bytes, sha256, facts, pipeline);
}

/** Prefixes an error with the argument it came from ("images[2]: ..."), for frontends. */
export function atArgument(e: unknown, argument: string): unknown {
  if (e instanceof ClipqlError) {
    return new ClipqlError(e.code, `${argument}: ${e.message}`, { cause: e.cause, details: { ...e.details, argument } });
  }
  return e;
}
