/**
 * The deploy folder's layout: the folder control plane's (folder-control.ts) counterpart of
 * keys.ts. Deployers and gateways on one box (or sharing a volume) meet here, so this layout
 * is an interface, and every path the folder plane uses is built here.
 *
 *     <dir>/<name>/versions/<id>/function.mjs       the bundle (hard link to an earlier
 *     <dir>/<name>/versions/<id>/function.mjs.map   version's when the code is the same)
 *     <dir>/<name>/versions/<id>/meta.json          the VersionRecord
 *     <dir>/<name>/rollout.json                     the Rollout
 *     <dir>/<name>/acks/<gateway>.json              each gateway's last GatewayAck
 *     <dir>/<name>/secrets.json                     { KEY: sealed value } (secret-box.ts)
 *     <dir>/<name>/.lock                            held while a rollout, prune or secret changes
 *     <dir>/.presence/<gateway>.json                { presence, ttlMs }: live until mtime + ttlMs
 *
 * Written by the deploy store before issue 12 (runtime/deploy-store.ts), still read
 * (folder-legacy.ts): `<dir>/<name>/<id>/` version folders and the `<dir>/<name>/current`
 * pointer. `.presence` cannot be a function's name (FUNCTION_NAME starts with a letter or
 * digit), nor can `versions` or `acks` be a version id.
 */
import { join } from 'node:path';

export const BUNDLE_FILE = 'function.mjs'; // runtime/bundle.ts BUNDLE_FILE: what a worker imports
export const MAP_FILE = 'function.mjs.map';
export const META_FILE = 'meta.json';
const VERSIONS_DIR = 'versions';
const ROLLOUT_FILE = 'rollout.json';
const LEGACY_POINTER = 'current';
const ACKS_DIR = 'acks';
const SECRETS_FILE = 'secrets.json';
const LOCK_FILE = '.lock';
const PRESENCE_DIR = '.presence';

/** The paths of one function in the deploy folder `dir`. */
export function functionPaths(dir: string, name: string) {
  const fn = join(dir, name);
  return {
    dir: fn,
    versions: join(fn, VERSIONS_DIR),
    version: (id: string) => join(fn, VERSIONS_DIR, id),
    /** A version folder of the deploy store's layout. */
    legacyVersion: (id: string) => join(fn, id),
    rollout: join(fn, ROLLOUT_FILE),
    /** The deploy store's `current` pointer. */
    pointer: join(fn, LEGACY_POINTER),
    acks: join(fn, ACKS_DIR),
    ack: (gateway: string) => join(fn, ACKS_DIR, `${gateway}.json`),
    secrets: join(fn, SECRETS_FILE),
    lock: join(fn, LOCK_FILE),
  };
}

/** Where gateways' heartbeats go: one file per gateway. */
export function presencePaths(dir: string) {
  const presence = join(dir, PRESENCE_DIR);
  return { dir: presence, gateway: (id: string) => join(presence, `${id}.json`) };
}
