/**
 * Strict base64 (and data URL) decoding. Node's Buffer.from(s, 'base64') silently skips invalid
 * characters, which would turn garbage into "a corrupt image"; we refuse it as BAD_USER_INPUT
 * with the position of the first bad character instead. The size limit is checked on the encoded
 * length, before anything is allocated.
 */
import { ClipqlError, ErrorCode } from '../errors';

const DATA_URL = /^data:([a-z0-9.+-]+\/[a-z0-9.+-]+)?((?:;[a-z0-9-]+=[^;,]*)*)(;base64)?,/i;

export function decodeBase64Image(input: string, maxBytes: number): Uint8Array {
  let payload = input;
  const m = DATA_URL.exec(input.slice(0, 256));
  if (m) {
    if (!m[3]) throw new ClipqlError(ErrorCode.BAD_USER_INPUT, 'data URL must be base64-encoded (";base64,")');
    payload = input.slice(m[0].length);
  } else if (/^data:/i.test(input)) {
    throw new ClipqlError(ErrorCode.BAD_USER_INPUT, 'malformed data URL: expected data:<mime>;base64,<data>');
  }
  // Whitespace (line-wrapped base64) is allowed and ignored.
  const compact = payload.replace(/[\s]+/g, '');
  if (compact.length === 0) throw new ClipqlError(ErrorCode.BAD_IMAGE, 'the image is empty (zero bytes)');
  const maxEncoded = Math.ceil(maxBytes / 3) * 4;
  if (compact.length > maxEncoded) {
    throw new ClipqlError(ErrorCode.IMAGE_TOO_LARGE, `the image is larger than the limit of ${maxBytes} bytes (${Math.floor((compact.length * 3) / 4)} bytes received)`, { details: { limit: maxBytes } });
  }
  const bad = /[^A-Za-z0-9+/=_-]/.exec(compact);
  if (bad) throw new ClipqlError(ErrorCode.BAD_USER_INPUT, `invalid base64: unexpected character ${JSON.stringify(bad[0])} at position ${bad.index}`);
  const eq = compact.indexOf('=');
  if (eq >= 0 && (!/^=+$/.test(compact.slice(eq)) || compact.length - eq > 2 || compact.length % 4 !== 0)) {
    throw new ClipqlError(ErrorCode.BAD_USER_INPUT, 'invalid base64: misplaced "=" padding');
  }
  if (compact.length % 4 === 1) throw new ClipqlError(ErrorCode.BAD_USER_INPUT, 'invalid base64: truncated (length is 1 more than a multiple of 4)');
  const bytes = Buffer.from(compact, /[-_]/.test(compact) ? 'base64url' : 'base64');
  if (bytes.length === 0) throw new ClipqlError(ErrorCode.BAD_IMAGE, 'the image is empty (zero bytes)');
  return bytes;
}
