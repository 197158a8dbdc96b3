/** The similarity form: images × captions → an accessible, coloured table plus the server's figure. */
import { normalize, rgbHex, textColorOn, ylOrRd } from '../../src/heatmap/colormap';
import { formatFixed2 } from '../../src/heatmap/text';
import { WebSimilarityDocument, describeError, errorsOf, parseArgument, request, ENDPOINT, type ShownError } from './api';
import { byId, h, setFieldError } from './dom';
import { ImageList, imageInput, type ImageItem } from './images';
import type { WebSimilarityQuery } from '../../client/gql/graphql';
import { showModelWarning } from './banner';

type SimilarityResult = WebSimilarityQuery['similarity'];

export function setupSimilarity(): void {
  const form = byId<HTMLFormElement>('similarity-form');
  const fileInput = byId<HTMLInputElement>('image-files');
  const dropzone = byId('dropzone');
  const urlInput = byId<HTMLInputElement>('image-url');
  const urlError = byId('image-url-error');
  const imagesError = byId('images-error');
  const captionsEl = byId<HTMLTextAreaElement>('captions');
  const captionsError = byId('captions-error');
  const backendEl = byId<HTMLSelectElement>('similarity-backend');
  const modelEl = byId<HTMLSelectElement>('similarity-model');
  const submit = byId<HTMLButtonElement>('similarity-submit');
  const status = byId('similarity-status');
  const formError = byId('similarity-error');
  const resultEl = byId('similarity-result');
  const images = new ImageList(byId<HTMLOListElement>('image-list'), () => setFieldError(imagesError, '', fileInput));

  fileInput.addEventListener('change', () => {
    if (fileInput.files) images.addFiles(Array.from(fileInput.files));
    fileInput.value = '';
  });
  for (const type of ['dragenter', 'dragover'] as const) {
    dropzone.addEventListener(type, (e) => {
      e.preventDefault();
      dropzone.classList.add('dragging');
    });
  }
  dropzone.addEventListener('dragleave', () => dropzone.classList.remove('dragging'));
  dropzone.addEventListener('drop', (e) => {
    e.preventDefault();
    dropzone.classList.remove('dragging');
    const files = Array.from(e.dataTransfer?.files ?? []);
    if (files.length) images.addFiles(files);
    else {
      const text = e.dataTransfer?.getData('text/uri-list') || e.dataTransfer?.getData('text/plain');
      if (text) for (const line of text.split(/\r?\n/)) if (/^https?:\/\//i.test(line.trim())) images.addUrl(line.trim());
    }
  });
  // Pasting an image anywhere outside a text field adds it (the classify form handles its own).
  document.addEventListener('paste', (e) => {
    const target = e.target as HTMLElement | null;
    if (target?.closest('#classify-form') || target instanceof HTMLTextAreaElement || (target instanceof HTMLInputElement && target.type !== 'file')) return;
    const files = Array.from(e.clipboardData?.files ?? []).filter((f) => f.type.startsWith('image/'));
    if (files.length) {
      e.preventDefault();
      images.addFiles(files);
    }
  });
  const addUrl = () => {
    const url = urlInput.value.trim();
    if (!/^https?:\/\/\S+$/i.test(url)) {
      setFieldError(urlError, 'Enter an http:// or https:// URL.', urlInput);
      urlInput.focus();
      return;
    }
    setFieldError(urlError, '', urlInput);
    images.addUrl(url);
    urlInput.value = '';
  };
  byId('add-url').addEventListener('click', addUrl);
  urlInput.addEventListener('keydown', (e) => {
    if (e.key === 'Enter') {
      e.preventDefault();
      addUrl();
    }
  });

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    void run();
  });

  async function run(): Promise<void> {
    images.clearErrors();
    for (const [el, ctl] of [[imagesError, fileInput], [captionsError, captionsEl], [formError, submit], [urlError, urlInput]] as const) setFieldError(el, '', ctl);
    const items = images.snapshot();
    const lines = captionsEl.value.split(/\r?\n/).map((text, i) => ({ text: text.trim(), line: i + 1 })).filter((l) => l.text !== '');
    let invalid: HTMLElement | undefined;
    if (items.length === 0) {
      setFieldError(imagesError, 'Add at least one image.', fileInput);
      invalid = fileInput;
    }
    if (lines.length === 0) {
      setFieldError(captionsError, 'Write at least one caption.', captionsEl);
      invalid ??= captionsEl;
    }
    if (invalid) {
      status.textContent = 'Please fix the marked fields.';
      invalid.focus();
      return;
    }
    submit.disabled = true;
    resultEl.setAttribute('aria-busy', 'true');
    status.textContent = `Comparing ${items.length} image${items.length === 1 ? '' : 's'} with ${lines.length} caption${lines.length === 1 ? '' : 's'}…`;
    try {
      const inputs = await Promise.all(items.map(imageInput));
      const data = await request(ENDPOINT, WebSimilarityDocument, { images: inputs, captions: lines.map((l) => l.text), backend: backendEl.value || null, model: modelEl.value || null });
      renderResult(resultEl, data.similarity, items);
      showModelWarning(data.similarity.model);
      status.textContent = `Done: ${lines.length} × ${items.length} similarities in ${Math.round(data.similarity.timings.totalMs)} ms.`;
    } catch (err) {
      resultEl.replaceChildren();
      const shown = errorsOf(err);
      const first = showErrors(shown, items, lines);
      status.textContent = `The request failed: ${shown.map(describeError).join(' ')}`;
      first?.focus();
    } finally {
      submit.disabled = false;
      resultEl.removeAttribute('aria-busy');
    }
  }

  /** Puts each error next to its input; returns the first element to focus. */
  function showErrors(errors: ShownError[], items: readonly ImageItem[], lines: { line: number }[]): HTMLElement | undefined {
    let first: HTMLElement | undefined;
    const captionMessages: string[] = [];
    const general: string[] = [];
    for (const e of errors) {
      const arg = parseArgument(e.argument);
      if (arg?.name === 'images' && arg.index !== undefined && items[arg.index]) {
        images.setError(items[arg.index], describeError(e));
        first ??= items[arg.index].element;
      } else if (arg?.name === 'images') {
        setFieldError(imagesError, describeError(e), fileInput);
        first ??= fileInput;
      } else if (arg?.name === 'captions') {
        const line = arg.index !== undefined ? lines[arg.index]?.line : undefined;
        captionMessages.push(line !== undefined ? `Line ${line}: ${describeError(e)}` : describeError(e));
        first ??= captionsEl;
      } else {
        general.push(describeError(e));
      }
    }
    if (captionMessages.length) setFieldError(captionsError, captionMessages.join(' '), captionsEl);
    if (general.length) {
      setFieldError(formError, general.join(' '), submit);
      first ??= submit;
    }
    return first;
  }
}

function renderResult(container: HTMLElement, r: SimilarityResult, items: readonly ImageItem[]): void {
  const rows = r.captions.length;
  const cols = r.images.length;
  let lo = Infinity;
  let hi = -Infinity;
  for (const row of r.scores) for (const v of row) (lo = Math.min(lo, v)), (hi = Math.max(hi, v));
  const best = r.bestCaptionPerImage.map((m) => m.caption);
  const names = items.map((it) => it.name);

  const head = h('tr', {}, h('td', { class: 'corner' }));
  r.images.forEach((im, j) => {
    head.appendChild(
      h('th', { scope: 'col', id: `col-${j}` }, h('img', { src: items[j].preview, alt: '', width: 56, height: 56 }), h('span', { class: 'col-name' }, shortName(names[j])), h('span', { class: 'visually-hidden' }, ` (${im.width} × ${im.height})`)),
    );
  });
  const body = h('tbody');
  r.scores.forEach((row, i) => {
    const tr = h('tr', {}, h('th', { scope: 'row', id: `row-${i}` }, r.captions[i].text));
    row.forEach((v, j) => {
      const fill = ylOrRd(normalize(v, lo, hi));
      const isBest = best[j] === i;
      const td = h('td', { class: isBest ? 'cell best' : 'cell', 'data-row': i, 'data-col': j, 'data-value': v, headers: `row-${i} col-${j}` }, formatFixed2(v));
      if (isBest) td.appendChild(h('span', { class: 'visually-hidden' }, ` best caption for ${names[j]}`));
      td.style.backgroundColor = rgbHex(fill);
      td.style.color = textColorOn(fill);
      tr.appendChild(td);
    });
    body.appendChild(tr);
  });
  const foot = h('tr', {}, h('th', { scope: 'row' }, 'Best caption'));
  best.forEach((i, j) => foot.appendChild(h('td', { class: 'best-caption', headers: `col-${j}` }, r.captions[i].text)));

  const table = h(
    'table',
    { id: 'similarity-table', class: 'heatmap-table' },
    h('caption', {}, `Cosine similarity of ${rows} caption${rows === 1 ? '' : 's'} (rows) with ${cols} image${cols === 1 ? '' : 's'} (columns). The best caption for each image is outlined. Colours span ${formatFixed2(lo)} (light) to ${formatFixed2(hi)} (dark).`),
    h('thead', {}, head),
    body,
    h('tfoot', {}, foot),
  );
  const figure = h(
    'figure',
    { class: 'heatmap-figure' },
    h('img', { src: r.heatmap.dataUrl, width: r.heatmap.width, height: r.heatmap.height, alt: `Heatmap figure rendered by the server: the same ${rows} × ${cols} values as the table above.` }),
    h('figcaption', {}, 'The figure as the API returns it (SimilarityMatrix.heatmap). ', h('a', { href: r.heatmap.dataUrl, download: 'heatmap.svg' }, 'Download SVG')),
  );
  container.replaceChildren(
    h('h3', { tabindex: -1, id: 'similarity-result-heading' }, 'Result'),
    h('p', { class: 'meta' }, `Model ${r.model.name} on backend ${r.backend.name} (${r.backend.device}).`),
    h('div', { class: 'table-scroll' }, table),
    figure,
  );
}

function shortName(name: string): string {
  const base = name.split(/[/?#]/).filter(Boolean).pop() ?? name;
  return base.length > 18 ? `${base.slice(0, 17)}…` : base;
}
