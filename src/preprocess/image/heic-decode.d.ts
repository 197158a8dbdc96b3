/** The part of npm `heic-decode` (2.x, no types of its own) that heic.ts uses. */
declare module 'heic-decode' {
  interface HeifPixels {
    readonly width: number;
    readonly height: number;
    /** RGBA, 8 bits. */
    readonly data: Uint8ClampedArray;
  }
  interface HeifItem {
    readonly width: number;
    readonly height: number;
    decode(): Promise<HeifPixels>;
  }
  function decode(input: { buffer: Uint8Array }): Promise<HeifPixels>;
  namespace decode {
    /** Every top-level image, parsed but not decoded; `dispose` frees libheif's handles. */
    function all(input: { buffer: Uint8Array }): Promise<HeifItem[] & { dispose(): void }>;
  }
  export = decode;
}
