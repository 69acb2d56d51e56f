/**
 * Run in a child process by the contract's close() test (bundled with esbuild first): uses
 * every call of a control plane, watch included, then close(), and prints "closed at MS". The
 * process must then exit by itself: anything close() left open (a socket, a timer, a
 * subscriber) would keep it alive and the test would see it hang.
 */
import { createHash } from 'node:crypto';
import type { ControlPlane } from '../../../gateway/src/control/control-plane.js';
import { FolderControlPlane } from '../../../gateway/src/control/folder-control.js';
import { RedisControlPlane } from '../../../gateway/src/control/redis-control.js';
import { S3ObjectStore, type S3StoreOptions } from '../../../gateway/src/objects/s3-store.js';
import { connectRedis } from '../../../gateway/src/redis/connection.js';

interface Spec {
  kind: 'folder' | 'redis';
  name: string;
  key: string;
  dir?: string;
  url?: string;
  s3?: S3StoreOptions;
  bucket?: string;
  prefix?: string;
}

const spec = JSON.parse(process.argv[2]) as Spec;
const secretsKey = Buffer.from(spec.key, 'hex');

function open(): ControlPlane {
  if (spec.kind === 'folder') return new FolderControlPlane(spec.dir!, { secretsKey });
  const redis = connectRedis(spec.url!, { commandTimeoutMs: 2000, connectTimeoutMs: 2000 }, { down() {}, up() {} });
  return new RedisControlPlane({ redis, bucket: new S3ObjectStore(spec.s3), bucketName: spec.bucket!, prefix: spec.prefix ?? '', secretsKey });
}

const plane = open();
const code = Buffer.from('export function handle() { return "exit"; }\n');
const sha256 = createHash('sha256').update(code).digest('hex');
const record = await plane.publish(spec.name, { code, sha256, author: 'exit-child', settings: {} });
let heard = false;
const stop = plane.watch((n) => {
  if (n === spec.name) heard = true;
});
// A change made by this same instance is heard too (the subscriber may need a moment).
for (let i = 0; i < 50 && !heard; i++) {
  await plane.setRollout(spec.name, { stable: record.id });
  await new Promise((r) => setTimeout(r, 100));
}
if (!heard) throw new Error('watch never fired');
await plane.fetchBundle(record);
await plane.ack({ gateway: 'exit-child', function: spec.name, revision: 1, serving: [record.id], ok: true, at: new Date().toISOString() });
await plane.acks(spec.name);
await plane.heartbeat({ gateway: 'exit-child', at: new Date().toISOString() }, 60_000);
await plane.liveGateways();
await plane.leave('exit-child');
await plane.putSecret(spec.name, 'K', 'v');
if ((await plane.secrets(spec.name)).K !== 'v') throw new Error('secret round trip failed');
await plane.versions(spec.name);
await plane.functions();
// Still subscribed when closing: close() must end the watch as well.
void stop;
await plane.close();
process.stdout.write(`closed at ${Date.now()}\n`);
