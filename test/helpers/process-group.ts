/**
 * The child processes of one test topology (redis-cluster.ts, redis-sentinel.ts) and the temp
 * folder their files live in, undone together: `stop()` kills every process and removes the
 * folder, and a start that fails half-way stops what it had already started before the error
 * goes on, so no redis-server outlives a failed start.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RedisProcess } from './redis-process.js';

export interface ProcessGroup {
  /** The group's temp folder. */
  readonly dir: string;
  /** Processes started for the group; push each one as it starts. */
  readonly procs: RedisProcess[];
  /** SIGKILLs every process, waits for the exits, removes the folder. */
  stop(): Promise<void>;
}

/** Runs `start` with a new group (folder named `prefix...`); if it throws, the group is stopped first. */
export async function withProcessGroup<T>(prefix: string, start: (group: ProcessGroup) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const procs: RedisProcess[] = [];
  const group: ProcessGroup = {
    dir,
    procs,
    async stop() {
      await Promise.all(procs.map((p) => p.kill()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    return await start(group);
  } catch (e) {
    await group.stop();
    throw e;
  }
}
