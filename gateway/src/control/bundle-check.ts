/**
 * A fetched bundle is checked against its version record before anything loads it: the
 * sha256 in the record is what the CLI hashed after the load check, so a bundle altered in
 * the bucket or on disk (or a truncated download) is refused, naming the version.
 */
import { createHash } from 'node:crypto';
import { ControlPlaneError, type VersionRecord } from './control-plane.js';

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

export function verifyBundle(record: VersionRecord, code: Uint8Array, where: string): void {
  const actual = sha256Hex(code);
  if (actual !== record.sha256) {
    throw new ControlPlaneError(
      `function "${record.function}": version ${record.id}: the bundle in ${where} has sha256 ${actual.slice(0, 16)}… (${code.length} bytes), ` +
        `the version record says ${record.sha256.slice(0, 16)}… (${record.bytes} bytes): it was altered or damaged, so it is not loaded; publish the version again or roll back to another`,
    );
  }
}

/** Refuses a publish whose code does not match the sha256 the caller computed. */
export function checkPublishInput(name: string, code: Uint8Array, sha256: string): void {
  const actual = sha256Hex(code);
  if (actual !== sha256) throw new ControlPlaneError(`function "${name}": publish: the code's sha256 is ${actual}, the input says ${sha256}`);
}
