/**
 * Teardown in one place. Start-up registers each part's closer the moment that part holds
 * something (a socket, a worker, a connection, a timer); `dispose` runs the closers once,
 * newest first, and is the same call whether start-up failed halfway or the running gateway
 * is closed. So a failed start closes exactly what had started, and nothing is closed twice
 * or in a different order on another path.
 *
 * The order is the reverse of start-up, so a part is closed before whatever it depends on:
 * start what must outlive another part before it (docs/ARCHITECTURE.md, "App: wiring and
 * teardown"). Every closer runs even when an earlier one throws: one stuck part must not leak
 * the others.
 */

/** Closes one part; `graceMs` is how long sessions in flight may still take (0 on a failed start). */
export type Closer = (graceMs: number) => void | Promise<void>;

export class DisposerStack {
  private readonly closers: { name: string; close: Closer }[] = [];
  private disposing: Promise<void> | undefined;

  /** Registers a started part's closer; `name` says which part failed to close. */
  defer(name: string, close: Closer): void {
    // A part started after teardown began would never be closed: that is a wiring bug.
    if (this.disposing) throw new Error(`cannot register "${name}": teardown has already run`);
    this.closers.push({ name, close });
  }

  /** The registered part names, oldest first (for tests and logs). */
  get names(): string[] {
    return this.closers.map((c) => c.name);
  }

  /**
   * Runs every closer once, newest first; a second call returns the first call's promise.
   * Rejects after all have run: with the one error, or an AggregateError naming each part.
   */
  dispose(graceMs: number): Promise<void> {
    return (this.disposing ??= this.run(graceMs));
  }

  private async run(graceMs: number): Promise<void> {
    const failed: { name: string; error: unknown }[] = [];
    for (let c = this.closers.pop(); c; c = this.closers.pop()) {
      try {
        await c.close(graceMs);
      } catch (error) {
        failed.push({ name: c.name, error });
      }
    }
    if (failed.length === 1) throw failed[0].error;
    if (failed.length > 1) {
      throw new AggregateError(
        failed.map((f) => f.error),
        `${failed.length} parts failed to close: ${failed.map((f) => f.name).join(', ')}`,
      );
    }
  }
}
