/** An Invoker that is never called and only counts close(): for reload-pipeline unit tests. */
import type { Invoker } from '../../gateway/src/runtime/invoker.js';

export class FakeInvoker implements Invoker {
  inflight = 0;
  closed = 0;
  constructor(readonly version: string) {}
  invoke(): never {
    throw new Error('not called');
  }
  async close(): Promise<void> {
    this.closed++;
  }
}
