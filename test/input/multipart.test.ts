/**
 * The multipart/form-data splitter (src/input/multipart.ts) against an independent
 * implementation: bodies serialised by Node's own FormData encoder (undici) and hand-written edge
 * cases, each read back by undici's parser (Response.formData()) for the expected parts.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { boundaryOf, MultipartError, splitFormData } from '../../src/input/multipart';

const LIMITS = { maxParts: 100, maxPartBytes: 1 << 24 };

/** undici's reading of a body: [name, filename | undefined, bytes] per part. */
async function reference(body: Buffer, type: string): Promise<Array<[string, string | undefined, Buffer]>> {
  const form = await new Response(new Uint8Array(body), { headers: { 'content-type': type } }).formData();
  const out: Array<[string, string | undefined, Buffer]> = [];
  for (const [name, v] of form.entries()) out.push(typeof v === 'string' ? [name, undefined, Buffer.from(v)] : [name, (v as File).name, Buffer.from(await v.arrayBuffer())]);
  return out;
}

function ours(body: Buffer, type: string): Array<[string, string | undefined, Buffer]> {
  return splitFormData(body, type, LIMITS).map((p) => [p.name, p.filename, Buffer.from(p.data)]);
}

async function encode(form: FormData): Promise<{ body: Buffer; type: string }> {
  const res = new Response(form);
  return { body: Buffer.from(await res.arrayBuffer()), type: res.headers.get('content-type')! };
}

describe('multipart/form-data splitting', () => {
  test('bodies from Node\'s FormData encoder: random binary files (CR, LF, dashes inside) and fields', async () => {
    for (let seed = 0; seed < 20; seed++) {
      const form = new FormData();
      form.append('operations', JSON.stringify({ query: '{ x }', n: seed, text: 'café ☕' }));
      form.append('map', '{}');
      for (let k = 0; k < 1 + (seed % 4); k++) {
        const bytes = randomBytes(seed * 997 + k * 13);
        // Plant delimiter-like sequences inside the data.
        if (bytes.length > 8) bytes.set(Buffer.from('\r\n--\r\n'), bytes.length >> 1);
        form.append(String(k), new Blob([bytes]), k === 2 ? 'a "quoted" name.png' : `f${k}.bin`);
      }
      const { body, type } = await encode(form);
      assert.deepEqual(ours(body, type), await reference(body, type), `seed ${seed}`);
    }
  });

  const hand = (s: string) => Buffer.from(s, 'latin1');
  // RFC 2046 allows what browsers never send and undici refuses: read by hand from the RFC.
  test('a preamble, an epilogue, a quoted boundary with a space, transport padding, header case', () => {
    assert.deepEqual(ours(hand('ignored preamble\r\n--XyZ\r\nContent-Disposition: form-data; name="a"\r\n\r\nhello\r\n--XyZ--\r\nepilogue'), 'multipart/form-data; boundary=XyZ'), [['a', undefined, hand('hello')]]);
    assert.deepEqual(ours(hand('--a b\t \r\ncontent-disposition: Form-Data; NAME="x\\"y"; filename="%22q%22"\r\nContent-Type: text/plain\r\n\r\n1\r\n--a b--'), 'multipart/form-data; boundary="a b"'), [['x"y', '"q"', hand('1')]]);
  });

  const cases: Array<[string, Buffer, string]> = [
    ['empty content and a file without a filename value', hand('--B\r\nContent-Disposition: form-data; name="e"\r\n\r\n\r\n--B\r\nContent-Disposition: form-data; name="f"; filename=""\r\nContent-Type: application/octet-stream\r\n\r\n\x00\xff\r\n--B--\r\n'), 'multipart/form-data; boundary=B'],
    ['content starting and ending with CR LF and dashes', hand('--B\r\nContent-Disposition: form-data; name="x"\r\n\r\n\r\n--\r\nx\r\n\r\n--\r\n--B--\r\n'), 'multipart/form-data; boundary=B'],
  ];
  for (const [name, body, type] of cases) {
    test(`edge case: ${name}`, async () => {
      assert.deepEqual(ours(body, type), await reference(body, type));
    });
  }

  test('malformed bodies and limits are refused with their kind', () => {
    const refused = (body: string, type: string, kind: string, message: RegExp, limits = LIMITS) =>
      assert.throws(() => splitFormData(hand(body), type, limits), (e: unknown) => e instanceof MultipartError && e.kind === kind && message.test(e.message));
    const ok = '--B\r\nContent-Disposition: form-data; name="a"\r\n\r\n12345\r\n--B--';
    refused(ok, 'multipart/form-data', 'syntax', /boundary/);
    refused(ok, 'text/plain; boundary=B', 'syntax', /multipart\/form-data/);
    refused(ok, `multipart/form-data; boundary=${'x'.repeat(71)}`, 'syntax', /boundary/);
    refused('no boundary here', 'multipart/form-data; boundary=B', 'syntax', /no boundary line/);
    refused('--B\r\nContent-Disposition: form-data; name="a"\r\n\r\n12345', 'multipart/form-data; boundary=B', 'syntax', /ends inside a part/);
    refused('--B\r\nContent-Disposition: form-data; name="a"\r\n12345\r\n--B--', 'multipart/form-data; boundary=B', 'syntax', /blank line|header/);
    refused('--Bjunk\r\n', 'multipart/form-data; boundary=B', 'syntax', /CRLF/);
    refused('--B\r\nContent-Type: text/plain\r\n\r\n1\r\n--B--', 'multipart/form-data; boundary=B', 'syntax', /Content-Disposition/);
    refused('--B\r\nContent-Disposition: form-data; filename="x"\r\n\r\n1\r\n--B--', 'multipart/form-data; boundary=B', 'syntax', /no name/);
    refused(`--B\r\nX: ${'y'.repeat(9000)}\r\n\r\n1\r\n--B--`, 'multipart/form-data; boundary=B', 'syntax', /exceed/);
    refused(ok, 'multipart/form-data; boundary=B', 'size', /larger than the limit of 4 bytes/, { maxParts: 10, maxPartBytes: 4 });
    refused(ok.replace('--B--', '--B\r\nContent-Disposition: form-data; name="b"\r\n\r\n1\r\n--B--'), 'multipart/form-data; boundary=B', 'parts', /more than 1 parts/, { maxParts: 1, maxPartBytes: 100 });
  });

  test('the boundary parameter, token or quoted', () => {
    assert.equal(boundaryOf('multipart/form-data; boundary=----WebKitFormBoundaryabc'), '----WebKitFormBoundaryabc');
    assert.equal(boundaryOf('Multipart/Form-Data;charset=utf-8; boundary="a\\"b"'), 'a"b');
  });

  test('parts are views into the body, not copies', () => {
    const body = hand('--B\r\nContent-Disposition: form-data; name="a"; filename="f"\r\n\r\n12345\r\n--B--');
    const [p] = splitFormData(body, 'multipart/form-data; boundary=B', LIMITS);
    assert.equal(p.data.buffer, body.buffer);
    assert.equal(p.data.toString(), '12345');
  });
});
