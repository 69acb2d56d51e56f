/**
 * A failure of user code, as the runtime reports it. Its wire form is decided in
 * errors/to-tftp-error.ts like every other failure; `kind` and the message are for logs only.
 */

/** Why an invocation failed, as logged: stable words for dashboards. */
export type FailureKind = 'threw' | 'bad-response' | 'stream-threw' | 'timeout' | 'worker-crashed' | 'size-mismatch' | 'unavailable' | 'busy';

export class FunctionFailure extends Error {
  readonly kind: FailureKind;
  constructor(kind: FailureKind, message: string, stack?: string) {
    super(message);
    this.name = 'FunctionFailure';
    this.kind = kind;
    if (stack) this.stack = stack;
  }
}
