/**
 * The function handler decides each WRQ by the version pinned for it (uploadsFor; issue 15,
 * runtime/version-settings.ts): a version whose manifest turned writes on takes the upload, one
 * without refuses it with ERROR 2 "writes are disabled" before the function runs, and the
 * version's own maxUploadBytes refuses a larger declared tsize with ERROR 3. Every refusal
 * releases the pinned version (a hot reload could otherwise never retire it).
 */
import { describe, expect, it } from 'vitest';
import { functionHandler, type FunctionUploadOptions, type PinnedVersion } from '../../../gateway/src/handlers/function.js';
import type { SessionTags, TftpRequest } from '../../../gateway/src/handlers/request.js';
import { ErrorCode, TftpError } from '../../../gateway/src/protocol/error-codes.js';
import { normalizePath } from '../../../gateway/src/protocol/path.js';
import type { Invoker } from '../../../gateway/src/runtime/invoker.js';
import type { LocalDirSource } from '../../../gateway/src/sources/local-dir.js';

const uploads = (enabled: boolean, maxBytes = 1_000_000): FunctionUploadOptions => ({
  enabled,
  maxBytes,
  maxPerClient: 4,
  overwrite: false,
  partBytes: 5 * 1024 * 1024,
  partsInFlight: 1,
  sweepIntervalMs: 0,
  sweepAgeMs: 3_600_000,
});

function wrq(path: string, tsize?: number): TftpRequest {
  return {
    id: 't-1',
    kind: 'write',
    path: normalizePath(path),
    mode: 'octet',
    options: tsize === undefined ? {} : { tsize: String(tsize) },
    peer: { address: '10.0.0.7', port: 40000, family: 'IPv4' },
    local: { address: '127.0.0.1', port: 69, family: 'IPv4' },
  };
}

/** A handler over one function whose pinned version is `serving.version`; counts pins, releases and invocations. */
function setup(byVersion: Record<string, FunctionUploadOptions>) {
  const serving = { version: 'v1', pins: 0, releases: 0, invocations: 0 };
  const invoker = {
    invoke: async () => {
      serving.invocations++;
      return { kind: 'discard' as const };
    },
  } as unknown as Invoker;
  const handler = functionHandler({
    name: 'up',
    pin: (): PinnedVersion => {
      serving.pins++;
      return { version: serving.version, invoker, release: () => void serving.releases++ };
    },
    files: {} as LocalDirSource,
    readAheadBytes: 512,
    uploads: uploads(false),
    uploadsFor: (version) => byVersion[version],
  });
  return { handler, serving };
}

async function refusedWith(p: Promise<unknown>): Promise<TftpError> {
  const e = await p.then(() => undefined, (err: unknown) => err);
  expect(e).toBeInstanceOf(TftpError);
  return e as TftpError;
}

describe('function handler: writes by the pinned version', () => {
  it('a version with writes on takes the upload (the function runs, its discard() is a writer); the next version without them refuses with ERROR 2 before the function runs', async () => {
    const { handler, serving } = setup({ v1: uploads(true), v2: uploads(false) });
    expect(handler.openWrite).toBeDefined();
    const tags: SessionTags = {};
    const writer = await handler.openWrite!(wrq('a.cfg'), tags);
    expect(typeof writer.write).toBe('function');
    expect(tags).toMatchObject({ function: 'up', version: 'v1', source: 'discard' });
    expect(serving).toMatchObject({ pins: 1, releases: 1, invocations: 1 });

    serving.version = 'v2';
    const tags2: SessionTags = {};
    const e = await refusedWith(handler.openWrite!(wrq('b.cfg'), tags2));
    expect([e.tftpCode, e.message]).toEqual([ErrorCode.AccessViolation, 'writes are disabled']);
    expect(tags2).toMatchObject({ function: 'up', version: 'v2' });
    expect(serving).toMatchObject({ pins: 2, releases: 2, invocations: 1 });
  });

  it('the version\'s maxUploadBytes refuses a larger declared tsize with ERROR 3 before the function runs, and releases the version', async () => {
    const { handler, serving } = setup({ v1: uploads(true, 100) });
    const e = await refusedWith(handler.openWrite!(wrq('big.cfg', 101), {}));
    expect(e.tftpCode).toBe(ErrorCode.DiskFull);
    expect(serving).toMatchObject({ pins: 1, releases: 1, invocations: 0 });
    await handler.openWrite!(wrq('fits.cfg', 100), {});
    expect(serving).toMatchObject({ pins: 2, releases: 2, invocations: 1 });
  });

  it('a version uploadsFor has no settings for is refused with ERROR 2 and released', async () => {
    const { handler, serving } = setup({});
    serving.version = 'v9';
    const e = await refusedWith(handler.openWrite!(wrq('x.cfg'), {}));
    expect(e.message).toBe('writes are disabled');
    expect(serving.releases).toBe(serving.pins);
  });
});
