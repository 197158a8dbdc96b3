import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ClipqlError, ErrorCode } from '../../src/errors';
import { MAX_HEATMAP_CELLS_PER_SIDE, renderHeatmapSvg, type HeatmapInput } from '../../src/heatmap';
import { formatFixed2, niceTicks } from '../../src/heatmap/text';
import { assertWellFormed, expectedYlOrRd, hexRgb, parseHeatmapSvg } from './svg-parse';

// A 1×1 PNG (white): the renderer embeds whatever bytes it is given; decoding is the PNG test's job.
const PNG_1PX = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGP4//8/AAX+Av4N70a4AAAAAElFTkSuQmCC', 'base64');

function input(scores: number[][], extra: Partial<HeatmapInput> = {}): HeatmapInput {
  return {
    scores,
    captions: scores.map((_, i) => `caption ${i}`),
    images: scores[0].map((_, j) => ({ thumbnail: PNG_1PX, mime: 'image/png', label: `image-${j}` })),
    title: 'Cosine similarity — tiny on onnx',
    ...extra,
  };
}

// 3 captions × 4 images; column maxima at rows 2, 0, 1, 2; min 0.1 (row 2, col 1), max 0.331 (row 2, col 3).
const SCORES = [
  [0.2, 0.3012, 0.15, 0.2],
  [0.112, 0.2987, 0.2741, 0.25],
  [0.2655, 0.1, 0.27, 0.331],
];

function expectError(fn: () => unknown, code: string, pattern: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof ClipqlError, `expected a ClipqlError, got ${String(e)}`);
    assert.equal(e.code, code);
    assert.match(e.message, pattern);
    return true;
  });
}

describe('renderHeatmapSvg', () => {
  it('is well-formed, deterministic XML with one cell per score', () => {
    const svg = renderHeatmapSvg(input(SCORES));
    assertWellFormed(svg);
    assert.equal(renderHeatmapSvg(input(SCORES)), svg, 'same input, same bytes');
    const p = parseHeatmapSvg(svg);
    assert.equal(p.cells.length, 12);
    const seen = new Set(p.cells.map((c) => `${c.row},${c.col}`));
    assert.equal(seen.size, 12);
    for (const c of p.cells) assert.equal(c.value, SCORES[c.row][c.col], `data-value of cell ${c.row},${c.col}`);
  });

  it("prints each value with 2 decimals, like the notebook's f\"{x:.2f}\"", () => {
    const p = parseHeatmapSvg(renderHeatmapSvg(input(SCORES)));
    for (const c of p.cells) {
      const expected = SCORES[c.row][c.col].toFixed(2); // no ties at 2 decimals in SCORES
      assert.equal(c.text, expected, `cell ${c.row},${c.col}`);
      assert.equal(Math.abs(Number(c.text) - SCORES[c.row][c.col]) <= 0.005, true);
    }
  });

  it('colours cells with YlOrRd between the matrix min (#ffffcc) and max (#800026)', () => {
    const p = parseHeatmapSvg(renderHeatmapSvg(input(SCORES)));
    const at = (r: number, c: number) => p.cells.find((x) => x.row === r && x.col === c)!;
    assert.equal(at(2, 1).fill, '#ffffcc', 'the minimum is the lightest ColorBrewer class');
    assert.equal(at(2, 3).fill, '#800026', 'the maximum is the darkest ColorBrewer class');
    const lo = 0.1;
    const hi = 0.331;
    for (const c of p.cells) {
      const want = expectedYlOrRd((c.value - lo) / (hi - lo));
      const got = hexRgb(c.fill);
      for (let k = 0; k < 3; k++) assert.ok(Math.abs(got[k] - want[k]) <= 0.5 + 1e-9, `cell ${c.row},${c.col} channel ${k}: ${got[k]} vs ${want[k]}`);
    }
  });

  it('uses a fixed colour range when given one, clipping values outside it', () => {
    const p = parseHeatmapSvg(renderHeatmapSvg(input([[0.05, 0.2, 0.35]], { range: { min: 0.1, max: 0.3 } })));
    assert.deepEqual(
      p.cells.map((c) => c.fill),
      ['#ffffcc', '#fd8c3c', '#800026'],
    );
    const mid = expectedYlOrRd(0.5).map(Math.round);
    assert.deepEqual(hexRgb(p.cells[1].fill), mid);
  });

  it('chooses the text colour for contrast', () => {
    const p = parseHeatmapSvg(renderHeatmapSvg(input(SCORES)));
    for (const c of p.cells) {
      if (c.fill === '#ffffcc') assert.equal(c.textFill, '#000000');
      if (c.fill === '#800026') assert.equal(c.textFill, '#ffffff');
    }
  });

  it('marks the best caption of every image (first maximum on ties)', () => {
    const p = parseHeatmapSvg(renderHeatmapSvg(input(SCORES)));
    assert.deepEqual(p.best, [
      { row: 2, col: 0 },
      { row: 0, col: 1 },
      { row: 1, col: 2 },
      { row: 2, col: 3 },
    ]);
    const tie = parseHeatmapSvg(renderHeatmapSvg(input([[0.2], [0.3], [0.3]])));
    assert.deepEqual(tie.best, [{ row: 1, col: 0 }]);
  });

  it('escapes captions, titles and labels: user text stays text', () => {
    const evil = 'a <script>alert("x")</script> & \'b\' ]]> <!-- \u0001 \u202Eevil';
    const svg = renderHeatmapSvg(
      input([[0.1, 0.2]], {
        captions: [evil],
        title: 'T <b>&amp;</b>',
        subtitle: '<img src=x onerror=alert(1)>',
        images: [
          { thumbnail: PNG_1PX, mime: 'image/png', label: '"><script>' },
          { thumbnail: PNG_1PX, mime: 'image/png' },
        ],
      }),
    );
    assertWellFormed(svg);
    assert.doesNotMatch(svg, /<script|<b>|<img|<!--|onerror=alert\(1\)>|\u0001|\u202E/);
    assert.match(svg, /a &lt;script&gt;alert\(&quot;x&quot;\)&lt;\/script&gt; &amp; &#39;b&#39; \]\]&gt; &lt;!-- \uFFFD evil/);
    assert.match(svg, /T &lt;b&gt;&amp;amp;&lt;\/b&gt;/);
    const p = parseHeatmapSvg(svg);
    assert.deepEqual(p.captions, ['a <script>alert("x")</script> & \'b\' ]]> <!-- \uFFFD evil']);
  });

  it('collapses newlines in captions and truncates long ones', () => {
    const long = 'word '.repeat(40).trim();
    const p = parseHeatmapSvg(renderHeatmapSvg(input([[0.1], [0.2]], { captions: ['two\nlines', long] })));
    assert.equal(p.captions[0], 'two lines');
    assert.ok(Array.from(p.captions[1]).length <= 60 && p.captions[1].endsWith('…'));
  });

  it('has no external references: thumbnails are data: URIs of the given bytes', () => {
    const svg = renderHeatmapSvg(input(SCORES));
    const p = parseHeatmapSvg(svg);
    assert.equal(p.hrefs.length, 4);
    for (const h of p.hrefs) assert.equal(h, `data:image/png;base64,${PNG_1PX.toString('base64')}`);
    // The only URL-looking strings are the SVG namespace and same-document gradient references.
    const urls = [...svg.matchAll(/https?:\/\/[^"\s]+|url\(([^)]*)\)/g)].map((m) => m[0]);
    for (const u of urls) assert.ok(u === 'http://www.w3.org/2000/svg' || /^url\(#[\w-]+\)$/.test(u), `unexpected reference ${u}`);
  });

  it('draws a "no preview" box for an image without a thumbnail', () => {
    const svg = renderHeatmapSvg(input([[0.1, 0.2]], { images: [{ thumbnail: PNG_1PX, mime: 'image/png' }, { label: 'broken.jpg' }] }));
    assertWellFormed(svg);
    assert.equal(parseHeatmapSvg(svg).hrefs.length, 1);
    assert.match(svg, /<g class="thumb-missing" data-col="1"><title>broken\.jpg<\/title>/);
  });

  it('scales to the requested width, clamped to 200..4096 px, keeping the aspect ratio', () => {
    const natural = parseHeatmapSvg(renderHeatmapSvg(input(SCORES)));
    assert.equal(natural.width, natural.viewBox[2]);
    for (const [asked, got] of [
      [800, 800],
      [50, 200],
      [100_000, 4096],
    ]) {
      const p = parseHeatmapSvg(renderHeatmapSvg(input(SCORES, { width: asked })));
      assert.equal(p.width, got);
      assert.equal(p.height, Math.round((got * p.viewBox[3]) / p.viewBox[2]));
    }
  });

  it('refuses more than 64 × 64 cells with TOO_MANY_INPUTS', () => {
    const n = MAX_HEATMAP_CELLS_PER_SIDE;
    assert.doesNotThrow(() => renderHeatmapSvg(input(Array.from({ length: n }, () => Array.from({ length: n }, (_, j) => j / n)))));
    expectError(() => renderHeatmapSvg(input(Array.from({ length: n + 1 }, () => [0.1]))), ErrorCode.TOO_MANY_INPUTS, /at most 64 captions × 64 images, got 65 × 1/);
    expectError(() => renderHeatmapSvg(input([Array.from({ length: n + 1 }, () => 0.1)])), ErrorCode.TOO_MANY_INPUTS, /got 1 × 65/);
  });

  it('answers malformed input with BAD_USER_INPUT naming the problem', () => {
    expectError(() => renderHeatmapSvg(input([[0.1, 0.2]], { captions: [] })), ErrorCode.BAD_USER_INPUT, /at least one caption/);
    expectError(() => renderHeatmapSvg(input([[0.1, 0.2]], { captions: ['a', 'b'] })), ErrorCode.BAD_USER_INPUT, /scores has 1 rows, expected one per caption \(2\)/);
    expectError(() => renderHeatmapSvg({ ...input([[0.1, 0.2]]), scores: [[0.1]] }), ErrorCode.BAD_USER_INPUT, /scores\[0\] has 1 values, expected one per image \(2\)/);
    expectError(() => renderHeatmapSvg(input([[0.1, Number.NaN]])), ErrorCode.BAD_USER_INPUT, /scores\[0\]\[1\] is not a finite number/);
    expectError(
      () => renderHeatmapSvg(input([[0.1]], { images: [{ thumbnail: PNG_1PX, mime: 'image/svg+xml' }] })),
      ErrorCode.BAD_USER_INPUT,
      /images\[0\]\.mime must be one of image\/png, image\/jpeg, image\/webp, image\/gif, got "image\/svg\+xml"/,
    );
    expectError(() => renderHeatmapSvg(input([[0.1]], { range: { min: 1, max: 1 } })), ErrorCode.BAD_USER_INPUT, /finite min < max/);
  });

  it('draws a colour bar with ticks inside the range, and a single-value matrix without failing', () => {
    const svg = renderHeatmapSvg(input(SCORES));
    const ticks = [...svg.matchAll(/<g class="tick" data-value="([^"]+)">/g)].map((m) => Number(m[1]));
    assert.deepEqual(ticks, [0.1, 0.15, 0.2, 0.25, 0.3]);
    assert.match(svg, /<rect class="colorbar"[^>]*fill="url\(#hm-[0-9a-f]{12}-bar\)"/);
    const flat = parseHeatmapSvg(renderHeatmapSvg(input([[0.25, 0.25]])));
    assert.deepEqual(
      flat.cells.map((c) => c.fill),
      ['#ffffcc', '#ffffcc'],
    );
  });

  it('wraps a long title to the figure width instead of letting it overflow', () => {
    const title = 'Cosine similarity between text and image features — a-model-with-a-long-name on onnx (cpu)';
    const svg = renderHeatmapSvg(input([[0.1]], { title, subtitle: 'Random weights (test model): these similarities are meaningless.' }));
    assertWellFormed(svg);
    const lines = [...svg.matchAll(/<text class="title"[^>]*>([^<]*)<\/text>/g)].map((m) => m[1]);
    assert.ok(lines.length >= 2 && lines.length <= 3, lines.join(' | '));
    assert.equal(lines.join(' '), title);
    const viewW = parseHeatmapSvg(svg).viewBox[2];
    for (const l of lines) assert.ok(Array.from(l).length * 18 * 0.62 <= viewW - 32, `"${l}" fits`);
    assert.ok(svg.includes(`>${title}</title>`), 'the accessible title is whole');
  });

  it('names the title and describes the result for screen readers', () => {
    const svg = renderHeatmapSvg(input(SCORES));
    assert.match(svg, /<svg [^>]*role="img" aria-labelledby="(hm-[0-9a-f]+)-title \1-desc"/);
    assert.match(svg, /<title id="hm-[0-9a-f]+-title">Cosine similarity — tiny on onnx<\/title>/);
    assert.match(svg, /image-0: best caption &quot;caption 2&quot; \(0\.27\)/);
  });
});

describe('formatFixed2', () => {
  it("matches Python's f\"{x:.2f}\", ties to even included", () => {
    // Values computed with CPython 3: f"{x:.2f}".
    const cases: [number, string][] = [
      [0.125, '0.12'],
      [0.375, '0.38'],
      [0.625, '0.62'],
      [0.875, '0.88'],
      [-0.125, '-0.12'],
      [1.125, '1.12'],
      [2.675, '2.67'],
      [0.005, '0.01'],
      [0.015, '0.01'],
      [0.2650000035762787, '0.27'],
      [-0.001, '-0.00'],
      [0, '0.00'],
      [0.999, '1.00'],
    ];
    for (const [x, want] of cases) assert.equal(formatFixed2(x), want, String(x));
  });
});

describe('niceTicks', () => {
  it('picks 1/2/2.5/5 steps inside the range', () => {
    assert.deepEqual(niceTicks(0.1, 0.3), { values: [0.1, 0.15, 0.2, 0.25, 0.3], decimals: 2 });
    assert.deepEqual(niceTicks(-1, 1), { values: [-1, -0.5, 0, 0.5, 1], decimals: 1 });
    assert.deepEqual(niceTicks(-0.38, 0.18), { values: [-0.3, -0.2, -0.1, 0, 0.1], decimals: 1 });
    assert.deepEqual(niceTicks(0.112, 0.331).values, [0.15, 0.2, 0.25, 0.3]);
    assert.deepEqual(niceTicks(-0.38, 0.31).values, [-0.3, -0.2, -0.1, 0, 0.1, 0.2, 0.3]);
    assert.deepEqual(niceTicks(0.2, 0.2).values, [0.2]);
  });
});
