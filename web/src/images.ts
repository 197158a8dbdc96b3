/**
 * The list of images to compare: files (picked, dropped or pasted) and URLs, in one ordered list.
 * The order is the request's order, so an error for "images[2]" lands on the third item.
 */
import { fileToDataUrl, h, setFieldError } from './dom';

export interface ImageItem {
  readonly key: number;
  readonly name: string;
  readonly file?: File;
  readonly url?: string;
  /** What the page shows (an object URL for files, the URL itself for URLs). */
  readonly preview: string;
  readonly element: HTMLLIElement;
  readonly errorEl: HTMLElement;
}

export class ImageList {
  private items: ImageItem[] = [];
  private nextKey = 0;

  constructor(
    private readonly listEl: HTMLOListElement,
    private readonly onChange: () => void = () => undefined,
  ) {}

  get size(): number {
    return this.items.length;
  }

  snapshot(): readonly ImageItem[] {
    return [...this.items];
  }

  addFiles(files: Iterable<File>): void {
    for (const file of files) this.add({ name: file.name || 'pasted image', file, preview: URL.createObjectURL(file) });
  }

  addUrl(url: string): void {
    this.add({ name: url, url, preview: url });
  }

  private add(spec: { name: string; file?: File; url?: string; preview: string }): void {
    const key = this.nextKey++;
    const errorId = `image-error-${key}`;
    const nameId = `image-name-${key}`;
    const img = h('img', { src: spec.preview, alt: `Preview of ${spec.name}`, width: 64, height: 64, loading: 'lazy' });
    // No preview (not an image the browser can show, or an unreachable URL): a placeholder box.
    img.addEventListener('error', () => img.replaceWith(h('span', { class: 'no-preview', 'aria-hidden': 'true' }, 'no preview')), { once: true });
    const remove = h('button', { type: 'button', class: 'remove', 'aria-label': `Remove ${spec.name}` }, 'Remove');
    const errorEl = h('p', { id: errorId, class: 'field-error' });
    const element = h(
      'li',
      { class: 'image-item', tabindex: -1, 'aria-labelledby': nameId, 'aria-describedby': errorId, 'data-key': key },
      img,
      h('span', { id: nameId, class: 'image-name' }, spec.name),
      remove,
      errorEl,
    );
    const item: ImageItem = { key, ...spec, element, errorEl };
    remove.addEventListener('click', () => this.remove(item));
    this.items.push(item);
    this.listEl.appendChild(element);
    this.onChange();
  }

  private remove(item: ImageItem): void {
    const i = this.items.indexOf(item);
    if (i < 0) return;
    this.items.splice(i, 1);
    item.element.remove();
    if (item.file) URL.revokeObjectURL(item.preview);
    // Keep keyboard focus in the list: the next item's remove button, else the previous one's.
    const next = this.items[i] ?? this.items[i - 1];
    (next?.element.querySelector('button') ?? (document.getElementById('image-files') as HTMLElement | null))?.focus();
    this.onChange();
  }

  clearErrors(): void {
    for (const it of this.items) this.setError(it, '');
  }

  setError(item: ImageItem, message: string): void {
    setFieldError(item.errorEl, message, item.element);
    item.element.classList.toggle('invalid', message !== '');
  }
}

/** The ImageInput of an item: a data URL of the file's bytes, or the URL. */
export async function imageInput(item: Pick<ImageItem, 'file' | 'url'>): Promise<{ base64?: string; url?: string }> {
  if (item.file) return { base64: await fileToDataUrl(item.file) };
  return { url: item.url };
}
