/**
 * What gateways say, in the deploy folder: each gateway's last acknowledgement per function
 * (`<dir>/<name>/acks/<gateway>.json`) and its heartbeat (`<dir>/.presence/<gateway>.json`,
 * live until the file's mtime + its ttlMs: the rename of each beat gives a fresh mtime; a clean
 * shutdown removes it, leave()). Each
 * file is replaced whole by its one writer, so no lock is needed; a file damaged or replaced
 * while read is left out until its gateway writes it again.
 */
import { mkdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { ControlPlaneError, type GatewayAck, type GatewayPresence } from './control-plane.js';
import { listDir, readIfExists, replaceFile } from './folder-files.js';
import { functionPaths, presencePaths } from './folder-layout.js';
import { checkGatewayId } from './names.js';
import { checkFunctionName } from './rollout-rules.js';

/** Presence files this long past their expiry are removed when read. */
const PRESENCE_GC_MS = 24 * 60 * 60 * 1000;

export async function writeAck(dir: string, ack: GatewayAck): Promise<void> {
  checkFunctionName(ack.function);
  checkGatewayId(ack.gateway);
  const paths = functionPaths(dir, ack.function);
  await mkdir(paths.acks, { recursive: true });
  await replaceFile(paths.ack(ack.gateway), `${JSON.stringify(ack)}\n`);
}

export async function readAcks(dir: string, name: string): Promise<GatewayAck[]> {
  checkFunctionName(name);
  const acksDir = functionPaths(dir, name).acks;
  const out: GatewayAck[] = [];
  for (const file of (await listDir(acksDir)).filter((f) => f.endsWith('.json')).sort()) {
    const text = await readIfExists(join(acksDir, file));
    if (text === undefined) continue;
    try {
      out.push(JSON.parse(text) as GatewayAck);
    } catch {
      // a damaged ack is left out; the gateway writes a whole new one on its next change
    }
  }
  return out;
}

export async function writeHeartbeat(dir: string, presence: GatewayPresence, ttlMs: number): Promise<void> {
  checkGatewayId(presence.gateway);
  if (!Number.isInteger(ttlMs) || ttlMs <= 0) throw new ControlPlaneError(`heartbeat ttlMs must be a whole number of ms above 0, got ${ttlMs}`);
  const paths = presencePaths(dir);
  await mkdir(paths.dir, { recursive: true });
  // The rename gives the file a fresh mtime: live until mtime + ttlMs.
  await replaceFile(paths.gateway(presence.gateway), `${JSON.stringify({ presence, ttlMs })}\n`);
}

/** Removes a gateway's heartbeat file: it is no longer live (an unknown id is a no-op). */
export async function removeHeartbeat(dir: string, gatewayId: string): Promise<void> {
  checkGatewayId(gatewayId);
  await rm(presencePaths(dir).gateway(gatewayId), { force: true });
}

export async function readLiveGateways(dir: string): Promise<GatewayPresence[]> {
  const presenceDir = presencePaths(dir).dir;
  const now = Date.now();
  const out: GatewayPresence[] = [];
  for (const file of (await listDir(presenceDir)).filter((f) => f.endsWith('.json')).sort()) {
    const path = join(presenceDir, file);
    try {
      const [st, text] = await Promise.all([stat(path), readFile(path, 'utf8')]);
      const { presence, ttlMs } = JSON.parse(text) as { presence: GatewayPresence; ttlMs: number };
      if (st.mtimeMs + ttlMs >= now) out.push(presence);
      else if (st.mtimeMs + ttlMs + PRESENCE_GC_MS < now) await rm(path, { force: true });
    } catch {
      // replaced or removed while we read: its next heartbeat counts
    }
  }
  return out;
}
