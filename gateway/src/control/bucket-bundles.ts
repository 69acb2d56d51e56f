/**
 * The Redis control plane's bundles, in the bucket: content-addressed by the code's sha256
 * (`<prefix>functions/NAME/<sha256>.mjs` and `.mjs.map`, keys.ts bundleKeys), so the same code
 * is uploaded once however often it is published, and what a gateway downloads is checked
 * against the version record's sha256 before anything loads it (bundle-check.ts).
 */
import { ObjectStoreError, type WritableObjectStore } from '../objects/object-store.js';
import { ControlPlaneError, type VersionRecord } from './control-plane.js';
import { verifyBundle } from './bundle-check.js';
import { bundleKeys } from './keys.js';

export class BucketBundles {
  constructor(
    private readonly bucket: WritableObjectStore,
    private readonly bucketName: string,
    /** "" or ending in "/" (controlPrefix). */
    private readonly prefix: string,
  ) {
    if (prefix !== '' && !prefix.endsWith('/')) throw new ControlPlaneError(`controlPrefix "${prefix}": use a prefix ending in "/" (e.g. "tftpfn/"), or "" for none`);
  }

  /** Stores a bundle's code (with progress) and map, each unless the bucket has it already. */
  async store(name: string, sha256: string, code: Uint8Array, map: Uint8Array | undefined, onProgress?: (sentBytes: number, totalBytes: number) => void): Promise<void> {
    const objects = bundleKeys(this.prefix, name, sha256);
    await this.upload(objects.code, code, onProgress);
    if (map) await this.upload(objects.map, map);
  }

  /** The bundle of a version, verified against its record; the map when there is one. */
  async fetch(record: VersionRecord): Promise<{ code: Buffer; map?: Buffer }> {
    const objects = bundleKeys(this.prefix, record.function, record.sha256);
    const where = `s3://${this.bucketName}/${objects.code}`;
    let code: Buffer;
    try {
      code = Buffer.from(await this.bucket.get({ bucket: this.bucketName, key: objects.code }));
    } catch (e) {
      const why = e instanceof ObjectStoreError ? (e.kind === 'not-found' ? 'it is not in the bucket' : e.message) : (e as Error).message;
      throw new ControlPlaneError(`function "${record.function}": version ${record.id}: cannot fetch its bundle ${where}: ${why}`);
    }
    verifyBundle(record, code, where);
    let map: Buffer | undefined;
    try {
      map = Buffer.from(await this.bucket.get({ bucket: this.bucketName, key: objects.map }));
    } catch {
      // A source map is optional: published without one, or not readable now.
    }
    return map ? { code, map } : { code };
  }

  close(): Promise<void> {
    return this.bucket.close();
  }

  /**
   * Uploads unless the bucket already has the object with this size (content-addressed: same key,
   * same bytes). The HEAD only saves an upload: when it fails for any reason (not found, a 5xx
   * while another deployer writes the same key, no s3:GetObject permission) the PUT decides, and
   * its error is the one reported.
   */
  private async upload(key: string, bytes: Uint8Array, onProgress?: (sentBytes: number, totalBytes: number) => void): Promise<void> {
    const ref = { bucket: this.bucketName, key };
    const info = await this.bucket.head(ref).catch(() => undefined);
    if (info !== undefined && info !== 'not-modified' && info.size === bytes.length) {
      onProgress?.(bytes.length, bytes.length);
      return;
    }
    try {
      await this.bucket.put(ref, bytes, onProgress);
    } catch (e) {
      throw this.bucketError(e, key);
    }
  }

  private bucketError(e: unknown, key: string): ControlPlaneError {
    const kind = e instanceof ObjectStoreError ? ` (${e.kind})` : '';
    return new ControlPlaneError(`cannot store s3://${this.bucketName}/${key}${kind}: ${(e as Error).message}; check controlBucket, the S3 settings and that the bucket exists`);
  }
}
