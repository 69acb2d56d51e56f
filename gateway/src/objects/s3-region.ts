/**
 * The region from the SDK's own chain (AWS_REGION, the shared config file's profile), else
 * 'us-east-1': an S3-compatible server rarely cares, and a missing region must not fail every
 * request. Resolved once per process, for the read store (s3-store.ts) and the upload store
 * (upload-s3.ts) alike; the caller passes the SDK's S3Client class (the SDK loads lazily).
 */
import type { S3Client } from '@aws-sdk/client-s3';

let chainRegion: Promise<string> | undefined;

export function regionFromChain(Client: new (config: object) => S3Client): Promise<string> {
  chainRegion ??= (async () => {
    const probe = new Client({});
    try {
      return await probe.config.region();
    } catch {
      return 'us-east-1';
    } finally {
      probe.destroy();
    }
  })();
  return chainRegion;
}
