/**
 * The control plane over a local folder: the embedded default, so a single box or a laptop
 * gets versions, rollback, canaries, acknowledgements and secrets exactly like the fleet.
 *
 * The layout is folder-layout.ts; this class checks what callers give it and puts the parts
 * together: version storage and retention (folder-versions.ts, which also reads the deploy
 * store's older layout through folder-legacy.ts), rollouts under the function's lock
 * (folder-rollout.ts), acknowledgements and heartbeats (folder-presence.ts), sealed secrets
 * (folder-secrets.ts) and the poll behind watch() (folder-watch.ts).
 *
 * The deploy store's invariants hold: a version folder is renamed into place whole and never
 * changes afterwards; rollout.json, acks and secrets are replaced by rename of a flushed
 * temporary file (folder-files.ts), so a reader sees the old state or the new one. watch()
 * polls the rollout files every pollMs (200 ms).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FUNCTION_NAME } from '../config/schema.js';
import { ControlPlaneError, type ControlPlane, type GatewayAck, type GatewayPresence, type PublishInput, type Rollout, type VersionRecord } from './control-plane.js';
import { checkPublishInput, verifyBundle } from './bundle-check.js';
import { listDir } from './folder-files.js';
import { BUNDLE_FILE, MAP_FILE } from './folder-layout.js';
import { readAcks, readLiveGateways, removeHeartbeat, writeAck, writeHeartbeat } from './folder-presence.js';
import { readRollout, writeRollout } from './folder-rollout.js';
import { changeSealedSecrets, readSealedSecrets } from './folder-secrets.js';
import { FolderVersions } from './folder-versions.js';
import { RolloutPoller } from './folder-watch.js';
import { checkSecretName } from './names.js';
import { checkFunctionName, checkRolloutRequest, checkVersionId } from './rollout-rules.js';
import { openAll, sealForSlot } from './sealed-secrets.js';
import { VERSION_ID } from './version-id.js';

export interface FolderControlOptions {
  /** The fleet's secrets key (secret-box.ts); needed by putSecret and secrets(). */
  secretsKey?: Uint8Array;
  /** How often watch() looks at the rollout files. Default 200. */
  pollMs?: number;
}

export class FolderControlPlane implements ControlPlane {
  readonly kind = 'folder' as const;
  private readonly secretsKey: Uint8Array | undefined;
  private readonly store: FolderVersions;
  private readonly poller: RolloutPoller;
  private closed = false;

  constructor(readonly dir: string, opts: FolderControlOptions = {}) {
    this.secretsKey = opts.secretsKey;
    this.store = new FolderVersions(dir);
    this.poller = new RolloutPoller(dir, opts.pollMs ?? 200);
  }

  async publish(name: string, input: PublishInput, onProgress?: (sentBytes: number, totalBytes: number) => void): Promise<VersionRecord> {
    this.open();
    checkFunctionName(name);
    checkPublishInput(name, input.code, input.sha256);
    const record = await this.store.write(name, input);
    onProgress?.(input.code.length, input.code.length);
    await this.store.prune(name, (n) => this.rollout(n));
    return record;
  }

  async versions(name: string): Promise<VersionRecord[]> {
    checkFunctionName(name);
    const out: VersionRecord[] = [];
    for (const id of (await this.store.ids(name)).reverse()) {
      // A folder damaged by hand is left out rather than hiding every other version.
      const found = await this.store.locate(name, id).catch(() => undefined);
      if (found) out.push(found.record);
    }
    return out;
  }

  async version(name: string, id: string): Promise<VersionRecord | undefined> {
    checkFunctionName(name);
    if (!VERSION_ID.test(id)) return undefined;
    return (await this.store.locate(name, id))?.record;
  }

  async functions(): Promise<string[]> {
    const found: string[] = [];
    for (const name of await listDir(this.dir)) {
      if (FUNCTION_NAME.test(name) && (await this.store.ids(name)).length > 0) found.push(name);
    }
    return found.sort();
  }

  async rollout(name: string): Promise<Rollout | undefined> {
    checkFunctionName(name);
    return readRollout(this.dir, name);
  }

  async setRollout(name: string, next: { stable: string; canary?: { version: string; percent: number } }): Promise<Rollout> {
    this.open();
    const request = checkRolloutRequest(name, next);
    return writeRollout(this.dir, name, request, async (id) => (await this.store.locate(name, id)) !== undefined);
  }

  async fetchBundle(record: VersionRecord): Promise<{ code: Buffer; map?: Buffer }> {
    checkFunctionName(record.function);
    checkVersionId(record.function, record.id);
    const found = await this.store.locate(record.function, record.id);
    if (!found) throw new ControlPlaneError(`function "${record.function}": version ${record.id} is not in ${this.dir} (pruned?); "tftpfn versions ${record.function}" lists them`);
    const file = join(found.dir, BUNDLE_FILE);
    let code: Buffer;
    try {
      code = await readFile(file);
    } catch (e) {
      throw new ControlPlaneError(`function "${record.function}": version ${record.id}: cannot read ${file} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
    verifyBundle(record, code, file);
    const map = await readFile(join(found.dir, MAP_FILE)).catch(() => undefined);
    return map ? { code, map } : { code };
  }

  watch(listener: (name: string) => void): () => void {
    this.open();
    return this.poller.add(listener);
  }

  ack(ack: GatewayAck): Promise<void> {
    return writeAck(this.dir, ack);
  }

  acks(name: string): Promise<GatewayAck[]> {
    return readAcks(this.dir, name);
  }

  heartbeat(presence: GatewayPresence, ttlMs: number): Promise<void> {
    return writeHeartbeat(this.dir, presence, ttlMs);
  }

  leave(gatewayId: string): Promise<void> {
    return removeHeartbeat(this.dir, gatewayId);
  }

  liveGateways(): Promise<GatewayPresence[]> {
    return readLiveGateways(this.dir);
  }

  async putSecret(name: string, key: string, value: string): Promise<void> {
    const sealed = sealForSlot(this.secretsKey, name, key, value);
    await changeSealedSecrets(this.dir, name, (all) => {
      all[key] = sealed;
    });
  }

  async deleteSecret(name: string, key: string): Promise<boolean> {
    checkFunctionName(name);
    checkSecretName(key);
    let had = false;
    await changeSealedSecrets(this.dir, name, (all) => {
      had = Object.hasOwn(all, key);
      delete all[key];
    });
    return had;
  }

  async secretNames(name: string): Promise<string[]> {
    checkFunctionName(name);
    return Object.keys(await readSealedSecrets(this.dir, name)).sort();
  }

  async secrets(name: string): Promise<Record<string, string>> {
    checkFunctionName(name);
    return openAll(this.secretsKey, name, await readSealedSecrets(this.dir, name));
  }

  async close(): Promise<void> {
    this.closed = true;
    this.poller.close();
  }

  private open(): void {
    if (this.closed) throw new ControlPlaneError('the control plane is closed');
  }
}
