/**
 * The object store's retry rule, used by the metadata check and by a session's chunk reads:
 * 'unavailable' (timeouts, throttling, 5xx) is retried with backoff (100 ms × 4^n); any other
 * failure is final at once. What finally fails leaves as a TftpError (errors/to-tftp-error.ts),
 * so no wire message names a bucket or key.
 */
import { toTftpError } from '../errors/to-tftp-error.js';
import { ObjectStoreError } from './object-store.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Runs `op` up to `attempts` times while it fails 'unavailable'. */
export async function withRetries<T>(op: () => Promise<T>, attempts: number): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await op();
    } catch (e) {
      const retryable = e instanceof ObjectStoreError && e.kind === 'unavailable';
      if (!retryable || attempt >= attempts) throw toTftpError(e);
      await sleep(100 * 4 ** (attempt - 1));
    }
  }
}
