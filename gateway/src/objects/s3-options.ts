/**
 * The S3 client settings a gateway config names, for every S3 store built from it: the
 * gateway's object store (object-setup.ts) and the fleet control plane's bucket
 * (control/open.ts), so `tftpfn deploy -c gateway.json` reaches the bucket exactly as the
 * gateways do. Type-only import: the AWS SDK is not loaded by asking for options.
 */
import type { GatewayConfig } from '../config/schema.js';
import type { S3StoreOptions } from './s3-store.js';

export type S3Config = Pick<GatewayConfig, 's3Endpoint' | 's3Region' | 's3ForcePathStyle' | 's3AccessKeyId' | 's3SecretAccessKey' | 's3RequestTimeoutMs' | 's3FirstByteTimeoutMs'>;

export function s3StoreOptions(config: S3Config): S3StoreOptions {
  return {
    endpoint: config.s3Endpoint,
    region: config.s3Region,
    forcePathStyle: config.s3ForcePathStyle,
    // Both keys or neither: one alone falls back to the SDK's credential chain.
    credentials: config.s3AccessKeyId && config.s3SecretAccessKey ? { accessKeyId: config.s3AccessKeyId, secretAccessKey: config.s3SecretAccessKey } : undefined,
    requestTimeoutMs: config.s3RequestTimeoutMs,
    firstByteTimeoutMs: config.s3FirstByteTimeoutMs,
  };
}
