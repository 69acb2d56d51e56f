/**
 * The control plane contract (contract.ts) against FolderControlPlane, plus what only a folder
 * has: the deploy store's folders (runtime/deploy-store.ts) read as they are.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FolderControlPlane } from '../../../gateway/src/control/folder-control.js';
import { createHash } from 'node:crypto';
import type { BuiltBundle } from '../../../gateway/src/runtime/bundle.js';
import { DeployStore } from '../../../gateway/src/runtime/deploy-store.js';
import { bundle, controlPlaneContract, KEY } from './contract.js';

function legacyBundle(code: string, entry = 'fn.ts'): BuiltBundle {
  return { entry, code, map: '{}', bytes: Buffer.byteLength(code), sha256: createHash('sha256').update(code).digest('hex'), buildMs: 0, warnings: [] };
}

controlPlaneContract('folder', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tftpfn-control-folder-'));
  return {
    make: async (opts) => new FolderControlPlane(dir, { secretsKey: opts?.secretsKey }),
    async storedCopies(name, sha256) {
      // Hard links share an inode: one stored copy however many versions name it.
      const versions = join(dir, name, 'versions');
      const inodes = new Set<number>();
      for (const id of readdirSync(versions)) {
        const meta = JSON.parse(readFileSync(join(versions, id, 'meta.json'), 'utf8')) as { sha256: string };
        if (meta.sha256 === sha256) inodes.add(statSync(join(versions, id, 'function.mjs')).ino);
      }
      return inodes.size;
    },
    async tamper(record) {
      const file = join(dir, record.function, 'versions', record.id, 'function.mjs');
      const bytes = readFileSync(file);
      bytes[bytes.length - 2] ^= 0x20;
      writeFileSync(file, bytes);
    },
    async storedSecretValues(name) {
      return Object.values(JSON.parse(readFileSync(join(dir, name, 'secrets.json'), 'utf8')) as Record<string, string>);
    },
    childSpec: { kind: 'folder', dir },
    async cleanup() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
});

describe('FolderControlPlane and the deploy store folders', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tftpfn-control-legacy-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads versions and the current pointer the deploy store wrote, as rollout revision 0; a new rollout then wins', async () => {
    const store = new DeployStore(dir);
    const code = 'export function handle() { return "legacy"; }\n';
    const built = legacyBundle(code, 'old.ts');
    const sha256 = built.sha256;
    const { deployed } = await store.publish('old', built);
    const plane = new FolderControlPlane(dir, { secretsKey: KEY });
    try {
      expect(await plane.functions()).toEqual(['old']);
      const versions = await plane.versions('old');
      expect(versions).toEqual([{ function: 'old', id: deployed.version, sha256, bytes: deployed.bytes, createdAt: deployed.deployedAt, author: 'unknown', entry: 'old.ts', settings: {} }]);
      const rollout = await plane.rollout('old');
      expect(rollout).toMatchObject({ stable: deployed.version, revision: 0 });
      expect((await plane.fetchBundle(versions[0])).code.toString()).toBe(code);

      // A new version beside the old ones; the rollout moves from the pointer to rollout.json.
      const next = await plane.publish('old', bundle('new'));
      expect((await plane.versions('old')).map((v) => v.id)).toEqual([next.id, deployed.version]);
      expect(await plane.setRollout('old', { stable: next.id, canary: { version: deployed.version, percent: 20 } })).toMatchObject({ revision: 1 });
      expect((await plane.rollout('old'))?.stable).toBe(next.id);
      // The old pointer is left as it was, for gateways of before issue 12.
      expect((await store.current('old'))?.version).toBe(deployed.version);
    } finally {
      await plane.close();
    }
  });

  it('watch: hears the deploy store moving its current pointer', async () => {
    mkdirSync(join(dir, 'ptr'), { recursive: true });
    const store = new DeployStore(dir);
    const first = await store.publish('ptr', legacyBundle('export function handle() { return 1; }\n'));
    const plane = new FolderControlPlane(dir);
    const heard: string[] = [];
    const stop = plane.watch((n) => heard.push(n));
    try {
      await store.publish('ptr', legacyBundle('export function handle() { return 2; }\n'));
      const deadline = Date.now() + 3000;
      while (!heard.includes('ptr') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      expect(heard).toContain('ptr');
      expect((await plane.rollout('ptr'))?.stable).not.toBe(first.deployed.version);
    } finally {
      stop();
      await plane.close();
    }
  });
});
