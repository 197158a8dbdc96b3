/**
 * A tiny reader for the heatmap's own SVG (deterministic output, so regexes suffice), plus a
 * well-formedness check (balanced tags, only the five XML entities and numeric references).
 */
import assert from 'node:assert/strict';

export interface ParsedCell {
  row: number;
  col: number;
  value: number;
  fill: string;
  textFill: string;
  text: string;
  rect: { x: number; y: number; width: number; height: number };
}

export interface ParsedSvg {
  width: number;
  height: number;
  viewBox: [number, number, number, number];
  cells: ParsedCell[];
  best: { row: number; col: number }[];
  captions: string[];
  hrefs: string[];
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

export function decodeXml(s: string): string {
  return s.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (m, e: string) => {
    if (e[0] === '#') return String.fromCodePoint(e[1] === 'x' || e[1] === 'X' ? Number.parseInt(e.slice(2), 16) : Number(e.slice(1)));
    const v = ENTITIES[e];
    if (v === undefined) throw new Error(`unknown entity ${m}`);
    return v;
  });
}

function attrs(tag: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of tag.matchAll(/\s([a-zA-Z:-]+)="([^"]*)"/g)) out[m[1]] = decodeXml(m[2]);
  return out;
}

export function assertWellFormed(svg: string): void {
  const stack: string[] = [];
  // Text between tags must not hold a raw '<' or a bare '&'.
  for (const m of svg.matchAll(/<(\/?)([a-zA-Z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>|([^<]+)|(<)/g)) {
    if (m[6]) assert.fail(`stray "<" at ${m.index}: ${svg.slice(m.index!, m.index! + 40)}`);
    if (m[5] !== undefined) {
      assert.doesNotMatch(m[5], /&(?!(amp|lt|gt|quot|apos|#\d+|#x[0-9a-f]+);)/i, `bare & in text: ${m[5]}`);
      continue;
    }
    const [, close, name, , selfClose] = m;
    if (close) assert.equal(stack.pop(), name, `</${name}> closes the wrong element`);
    else if (!selfClose) stack.push(name);
  }
  assert.deepEqual(stack, [], 'unclosed elements');
}

export function parseHeatmapSvg(svg: string): ParsedSvg {
  const root = attrs(/^<svg\b[^>]*>/.exec(svg)![0]);
  const cells: ParsedCell[] = [];
  const cellRe = /<g class="cell"([^>]*)><rect([^>]*)\/><text([^>]*)>([^<]*)<\/text><\/g>/g;
  for (const m of svg.matchAll(cellRe)) {
    const g = attrs(m[1]);
    const r = attrs(m[2]);
    const t = attrs(m[3]);
    cells.push({
      row: Number(g['data-row']),
      col: Number(g['data-col']),
      value: Number(g['data-value']),
      fill: r.fill,
      textFill: t.fill,
      text: decodeXml(m[4]),
      rect: { x: Number(r.x), y: Number(r.y), width: Number(r.width), height: Number(r.height) },
    });
  }
  const best = [...svg.matchAll(/<rect class="best"([^>]*)\/>/g)].map((m) => {
    const a = attrs(m[1]);
    return { row: Number(a['data-row']), col: Number(a['data-col']) };
  });
  const captions = [...svg.matchAll(/<text class="caption"[^>]*>([^<]*)<\/text>/g)].map((m) => decodeXml(m[1]));
  const hrefs = [...svg.matchAll(/\s(?:xlink:)?href="([^"]*)"/g)].map((m) => m[1]);
  return {
    width: Number(root.width),
    height: Number(root.height),
    viewBox: root.viewBox.split(/\s+/).map(Number) as [number, number, number, number],
    cells,
    best,
    captions,
    hrefs,
  };
}

/** ColorBrewer YlOrRd (9 classes), written out independently of src/heatmap/colormap.ts. */
const BREWER = [
  [255, 255, 204],
  [255, 237, 160],
  [254, 217, 118],
  [254, 178, 76],
  [253, 141, 60],
  [252, 78, 42],
  [227, 26, 28],
  [189, 0, 38],
  [128, 0, 38],
];

/** The colour matplotlib's YlOrRd (N = 256) gives t ∈ [0, 1], as [r, g, b] 0..255 (unrounded). */
export function expectedYlOrRd(t: number): [number, number, number] {
  const i = Math.min(Math.floor(t * 256), 255);
  const x = (i / 255) * 8;
  const k = Math.min(Math.floor(x), 7);
  const f = x - k;
  return [0, 1, 2].map((c) => BREWER[k][c] + (BREWER[k + 1][c] - BREWER[k][c]) * f) as [number, number, number];
}

export function hexRgb(hex: string): [number, number, number] {
  const n = Number.parseInt(hex.slice(1), 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}
