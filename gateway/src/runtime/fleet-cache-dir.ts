/**
 * Where the fleet source's disk cache lives when `controlCacheDir` is not set: a folder in the
 * OS temp folder named after the control plane it caches (`tftpfn-control-<12 hex>`, a hash of
 * the kind and of the deploy folder, or of the Redis URL, bucket and prefix), so the gateway
 * processes of one box that follow one fleet share it, and gateways of different fleets on one
 * box (tests, a staging fleet) never read each other's versions. The hash keeps a password in
 * the Redis URL out of the path.
 *
 * The temp folder survives a gateway restart, which is what the cache is for; it may not survive
 * a reboot (tmpfs, systemd PrivateTmp), so a gateway that must start offline after a reboot sets
 * `controlCacheDir` to a folder under /var/lib (docs/DEPLOY.md).
 */
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export interface CacheDirInput {
  readonly deployDir?: string;
  readonly redisUrl?: string;
  readonly controlBucket: string;
  readonly controlPrefix: string;
}

export function defaultControlCacheDir(c: CacheDirInput, kind: 'folder' | 'redis'): string {
  const fleet = kind === 'folder' ? `folder\0${resolve(c.deployDir ?? '.')}` : `redis\0${c.redisUrl ?? ''}\0${c.controlBucket}\0${c.controlPrefix}`;
  return join(tmpdir(), `tftpfn-control-${createHash('sha256').update(fleet).digest('hex').slice(0, 12)}`);
}
