/** The zero-shot form: one image against labels, probabilities as bars. */
import type { WebClassifyQuery } from '../../client/gql/graphql';
import { WebClassifyDocument, describeError, errorsOf, parseArgument, request, ENDPOINT } from './api';
import { showModelWarning } from './banner';
import { byId, fileToDataUrl, h, setFieldError } from './dom';

export function setupClassify(): void {
  const form = byId<HTMLFormElement>('classify-form');
  const fileEl = byId<HTMLInputElement>('classify-file');
  const urlEl = byId<HTMLInputElement>('classify-url');
  const preview = byId('classify-preview');
  const imageError = byId('classify-image-error');
  const labelsEl = byId<HTMLTextAreaElement>('labels');
  const labelsError = byId('labels-error');
  const templateEl = byId<HTMLInputElement>('template');
  const templateError = byId('template-error');
  const backendEl = byId<HTMLSelectElement>('classify-backend');
  const modelEl = byId<HTMLSelectElement>('classify-model');
  const submit = byId<HTMLButtonElement>('classify-submit');
  const status = byId('classify-status');
  const formError = byId('classify-error');
  const resultEl = byId('classify-result');
  let pasted: File | undefined;
  let previewUrl: string | undefined;

  const showPreview = (src: string | undefined, name: string) => {
    if (previewUrl) URL.revokeObjectURL(previewUrl);
    previewUrl = src?.startsWith('blob:') ? src : undefined;
    preview.replaceChildren(...(src ? [h('img', { src, alt: `Preview of ${name}`, height: 96 })] : []));
  };
  fileEl.addEventListener('change', () => {
    pasted = undefined;
    const f = fileEl.files?.[0];
    if (f) urlEl.value = '';
    showPreview(f ? URL.createObjectURL(f) : undefined, f?.name ?? '');
  });
  urlEl.addEventListener('change', () => {
    const url = urlEl.value.trim();
    if (url) {
      fileEl.value = '';
      pasted = undefined;
    }
    showPreview(/^https?:\/\//i.test(url) ? url : undefined, url);
  });
  form.addEventListener('paste', (e) => {
    const f = Array.from(e.clipboardData?.files ?? []).find((x) => x.type.startsWith('image/'));
    if (!f) return;
    e.preventDefault();
    pasted = f;
    fileEl.value = '';
    urlEl.value = '';
    showPreview(URL.createObjectURL(f), 'the pasted image');
  });
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    void run();
  });

  async function run(): Promise<void> {
    for (const [el, ...ctl] of [[imageError, fileEl, urlEl], [labelsError, labelsEl], [templateError, templateEl], [formError, submit]] as const) setFieldError(el, '', ...ctl);
    const file = pasted ?? fileEl.files?.[0];
    const url = urlEl.value.trim();
    const labels = labelsEl.value.split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== '');
    let invalid: HTMLElement | undefined;
    if (!file && !url) {
      setFieldError(imageError, 'Choose an image file or enter its URL.', fileEl, urlEl);
      invalid = fileEl;
    }
    if (labels.length === 0) {
      setFieldError(labelsError, 'Write at least one label.', labelsEl);
      invalid ??= labelsEl;
    }
    if (!templateEl.value.includes('{}')) {
      setFieldError(templateError, 'The template needs “{}” where the label goes.', templateEl);
      invalid ??= templateEl;
    }
    if (invalid) {
      status.textContent = 'Please fix the marked fields.';
      invalid.focus();
      return;
    }
    submit.disabled = true;
    resultEl.setAttribute('aria-busy', 'true');
    status.textContent = `Classifying against ${labels.length} label${labels.length === 1 ? '' : 's'}…`;
    try {
      const image = file ? { base64: await fileToDataUrl(file) } : { url };
      const data = await request(ENDPOINT, WebClassifyDocument, { image, labels, template: templateEl.value, backend: backendEl.value || null, model: modelEl.value || null });
      renderResult(resultEl, data.classify);
      showModelWarning(data.classify.model);
      const top = data.classify.labels[0];
      status.textContent = `Done: most likely “${top.label}” (${percent(top.probability)}).`;
    } catch (err) {
      resultEl.replaceChildren();
      const shown = errorsOf(err);
      let first: HTMLElement | undefined;
      for (const e of shown) {
        const arg = parseArgument(e.argument);
        if (arg?.name === 'image') {
          setFieldError(imageError, describeError(e), fileEl, urlEl);
          first ??= file ? fileEl : urlEl;
        } else if (arg?.name === 'labels') {
          const label = arg.index !== undefined ? labels[arg.index] : undefined;
          setFieldError(labelsError, label !== undefined ? `“${label}”: ${describeError(e)}` : describeError(e), labelsEl);
          first ??= labelsEl;
        } else if (arg?.name === 'template') {
          setFieldError(templateError, describeError(e), templateEl);
          first ??= templateEl;
        } else {
          setFieldError(formError, describeError(e), submit);
          first ??= submit;
        }
      }
      status.textContent = `The request failed: ${shown.map(describeError).join(' ')}`;
      first?.focus();
    } finally {
      submit.disabled = false;
      resultEl.removeAttribute('aria-busy');
    }
  }
}

function percent(p: number): string {
  return `${(p * 100).toFixed(1)} %`;
}

function renderResult(container: HTMLElement, c: WebClassifyQuery['classify']): void {
  const list = h('ol', { id: 'classify-bars', class: 'bars' });
  for (const l of c.labels) {
    const id = `label-${l.rank}`;
    list.appendChild(
      h(
        'li',
        { class: l.rank === 1 ? 'bar top' : 'bar' },
        h('span', { class: 'bar-label', id }, l.label),
        h('meter', { min: 0, max: 1, value: l.probability, 'aria-labelledby': id, title: l.prompt }),
        h('span', { class: 'bar-value' }, percent(l.probability)),
        h('span', { class: 'bar-score' }, `cos ${l.score.toFixed(3)}`),
      ),
    );
  }
  container.replaceChildren(
    h('h3', {}, 'Zero-shot labels'),
    h('p', { class: 'meta' }, `Model ${c.model.name} on backend ${c.backend.name} (${c.backend.device}); image ${c.image.width} × ${c.image.height} ${c.image.format}. Most probable first.`),
    list,
  );
}
