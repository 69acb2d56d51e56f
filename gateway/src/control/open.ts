/**
 * Opens the control plane a config names, the one way the gateway and the CLI both do (issue
 * 12), so `tftpfn deploy -c gateway.json` writes exactly where the gateways read: the kind is
 * config/checks.ts controlPlaneKind (controlPlane, else the deploy folder with deployDir, else
 * Redis + the bucket with redisUrl and objectStore "s3"), the secrets key is secretsKey or
 * secretsKeyFile (secret-box.ts).
 */
import { controlPlaneKind } from '../config/checks.js';
import type { GatewayConfig } from '../config/schema.js';
import { ControlPlaneError, type ControlPlane } from './control-plane.js';
import type { RedisEvents } from '../redis/connection.js';
import { s3StoreOptions } from '../objects/s3-options.js';
import { FolderControlPlane } from './folder-control.js';
import { loadSecretsKey } from './secret-box.js';

export const NO_CONTROL_PLANE =
  'no control plane configured: give a deploy folder (--deploy-dir DIR, or deployDir / TFTPFN_DEPLOY_DIR), ' +
  'or the gateway\'s config (-c gateway.json) naming one; a fleet uses redisUrl with objectStore "s3" (--redis-url URL --control-bucket BUCKET)';

export interface OpenOptions {
  /** How often a folder plane's watch() looks for changes (default: the plane's own). */
  readonly pollMs?: number;
  /**
   * A one-shot command (the CLI): Redis is tried a few times, then calls fail with the reason,
   * instead of reconnecting for ever as a gateway does.
   */
  readonly oneShot?: boolean;
  /** Told when Redis goes down and comes back (a gateway logs it). */
  readonly redisEvents?: RedisEvents;
}

/** How long a one-shot command waits for Redis before it says Redis cannot be reached. */
const ONE_SHOT_WAIT_MS = 5000;

export async function openControlPlane(config: GatewayConfig, opts: OpenOptions = {}): Promise<ControlPlane> {
  const kind = controlPlaneKind(config);
  let secretsKey: Uint8Array | undefined;
  try {
    secretsKey = loadSecretsKey({ key: config.secretsKey, file: config.secretsKeyFile });
  } catch (e) {
    throw new ControlPlaneError((e as Error).message);
  }
  switch (kind) {
    case 'folder':
      return new FolderControlPlane(config.deployDir!, { ...(secretsKey ? { secretsKey } : {}), ...(opts.pollMs !== undefined ? { pollMs: opts.pollMs } : {}) });
    case 'redis': {
      // Imported here, not above (issue 13, docs/PERFORMANCE.md "Idle memory"): the fleet's
      // control plane brings ioredis and the AWS SDK, which a folder plane never uses.
      const [{ connectRedis }, { S3ObjectStore }, { RedisControlPlane }] = await Promise.all([
        import('../redis/connection.js'),
        import('../objects/s3-store.js'),
        import('./redis-control.js'),
      ]);
      const redis = connectRedis(
        config.redisUrl!,
        { connectTimeoutMs: ONE_SHOT_WAIT_MS, ...(opts.oneShot ? { commandTimeoutMs: ONE_SHOT_WAIT_MS, retryStrategy: (n: number) => (n > 3 ? null : 250 * n) } : {}) },
        opts.redisEvents,
      );
      // The same bucket client settings as the gateway's object store (objects/object-setup.ts).
      const bucket = new S3ObjectStore(s3StoreOptions(config));
      return new RedisControlPlane({ redis, bucket, bucketName: config.controlBucket, prefix: config.controlPrefix, ...(secretsKey ? { secretsKey } : {}), ...(opts.oneShot ? { readyWaitMs: ONE_SHOT_WAIT_MS } : {}) });
    }
    default:
      throw new ControlPlaneError(NO_CONTROL_PLANE);
  }
}
