/**
 * The service's way to the store: opened once, on first use (or at start-up when CLIP_STORE is
 * set), shared by every request as one memoised promise. A failed open is not remembered: the
 * next request tries again (a database server that was down may be back).
 */
import { ClipqlError, ErrorCode } from '../errors';
import type { CollectionStore } from './store';

export class StoreHandle {
  private opening?: Promise<CollectionStore>;
  private closed = false;

  constructor(private readonly open: () => Promise<CollectionStore>) {}

  get(): Promise<CollectionStore> {
    if (this.closed) return Promise.reject(new ClipqlError(ErrorCode.STORE_UNAVAILABLE, 'the collection store is closed (the server is stopping)'));
    if (!this.opening) {
      const p = this.open();
      this.opening = p;
      p.catch(() => {
        if (this.opening === p) this.opening = undefined;
      });
    }
    return this.opening;
  }

  /** Whether the store has been opened (or is opening). */
  get started(): boolean {
    return this.opening !== undefined;
  }

  async close(): Promise<void> {
    this.closed = true;
    const p = this.opening;
    this.opening = undefined;
    if (p) await p.then((s) => s.close(), () => undefined);
  }
}
