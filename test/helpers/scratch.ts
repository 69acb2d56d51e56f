/**
 * What an integration test file makes and must undo, and how it waits: temp folders and
 * closers released after all of the file's tests (closers last-registered first, then the
 * folders), and a bounded poll for a condition that becomes true a moment later (a record
 * goes out after the final ACK, a gateway acknowledges a rollout on its next poll).
 *
 *     const { temp, defer } = scratch();
 *     const cp = new FolderControlPlane(temp('deploy-'));
 *     defer(() => cp.close());
 *     expect(await eventually(async () => (await cp.acks('fn')).length > 0)).toBe(true);
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';

export interface Scratch {
  /** A new folder under the OS temp folder, removed after the file's tests. */
  temp(prefix: string): string;
  /** `close` runs after the file's tests, before the folders are removed; the last deferred runs first. */
  defer(close: () => unknown): void;
}

/**
 * Call at a test file's top level (it registers an afterAll). `ignoreCloseErrors`: a closer
 * that fails does not stop the others (for servers a test may already have stopped).
 */
export function scratch(opts: { ignoreCloseErrors?: boolean } = {}): Scratch {
  const dirs: string[] = [];
  const closers: (() => unknown)[] = [];
  afterAll(async () => {
    try {
      for (const close of closers.splice(0).reverse()) {
        if (opts.ignoreCloseErrors) await Promise.resolve().then(close).catch(() => undefined);
        else await close();
      }
    } finally {
      for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
    }
  });
  return {
    temp(prefix) {
      const d = mkdtempSync(join(tmpdir(), prefix));
      dirs.push(d);
      return d;
    },
    defer(close) {
      closers.push(close);
    },
  };
}

/**
 * Polls `check` every `stepMs` until it holds (true) or `ms` have passed (false). Bounded: at
 * most about ms / stepMs + 1 checks; `check` is always asked at least once.
 */
export async function eventually(check: () => boolean | Promise<boolean>, ms = 5000, stepMs = 25): Promise<boolean> {
  const end = Date.now() + ms;
  for (;;) {
    if (await check()) return true;
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, stepMs));
  }
}
