/**
 * Mutations for the fuzz run: small, seeded damage to a valid file, of the kinds real corruption
 * and crafted inputs show (flipped bits, overwritten bytes, cuts, insertions, repeated blocks,
 * header fields set to extremes).
 */
export interface Mutation {
  readonly op: string;
  readonly bytes: Buffer;
}

const EXTREMES = [0x00, 0x01, 0x7f, 0x80, 0xff];

export function mutate(input: Uint8Array, random: () => number): Mutation {
  const int = (n: number) => Math.floor(random() * n);
  const b = Buffer.from(input);
  const n = b.length;
  switch (int(7)) {
    case 0: {
      const flips = 1 + int(16);
      for (let i = 0; i < flips; i++) b[int(n)] ^= 1 << int(8);
      return { op: `flip ${flips} bits`, bytes: b };
    }
    case 1: {
      const at = int(n);
      const len = 1 + int(Math.min(64, n - at));
      for (let i = 0; i < len; i++) b[at + i] = int(256);
      return { op: `overwrite ${len} bytes at ${at}`, bytes: b };
    }
    case 2: {
      const at = int(n);
      return { op: `truncate at ${at}`, bytes: b.subarray(0, at) };
    }
    case 3: {
      const at = int(n);
      const junk = Buffer.from(Array.from({ length: 1 + int(256) }, () => int(256)));
      return { op: `insert ${junk.length} bytes at ${at}`, bytes: Buffer.concat([b.subarray(0, at), junk, b.subarray(at)]) };
    }
    case 4: {
      const at = int(n);
      const len = 1 + int(Math.min(4096, n - at));
      return { op: `delete ${len} bytes at ${at}`, bytes: Buffer.concat([b.subarray(0, at), b.subarray(at + len)]) };
    }
    case 5: {
      const at = int(n);
      const len = 1 + int(Math.min(1024, n - at));
      const times = 2 + int(8);
      const block = b.subarray(at, at + len);
      return { op: `repeat ${len} bytes at ${at} x${times}`, bytes: Buffer.concat([b.subarray(0, at), ...Array.from({ length: times }, () => block), b.subarray(at + len)]) };
    }
    default: {
      // Header fields: bytes within the first 64 set to extremes (sizes, depths, counts).
      const count = 1 + int(4);
      for (let i = 0; i < count; i++) b[int(Math.min(64, n))] = EXTREMES[int(EXTREMES.length)];
      return { op: `${count} header bytes to extremes`, bytes: b };
    }
  }
}
