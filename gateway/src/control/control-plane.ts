/**
 * The control plane's contract (issue 12): where published function versions live, which one
 * serves (and which canary, for what share of clients), and what every gateway says it runs.
 *
 * Two implementations, one behaviour, one contract test (test/integration/control/contract.ts):
 *  - FolderControlPlane (folder-control.ts): the local deploy folder, the embedded default: a
 *    single box or a laptop gets versions, rollback and canaries exactly like the fleet.
 *  - RedisControlPlane (redis-control.ts): bundles in the bucket, content-addressed
 *    (`<prefix>functions/NAME/<sha256>.mjs`), version records, rollouts, acknowledgements and
 *    encrypted secrets in Redis (single server, Sentinel or Cluster: every key of one function
 *    shares a hash tag, `{fn:NAME}`), changes announced on pub/sub, with a periodic check of the
 *    rollout as the fallback for a missed message.
 *
 * Versions are immutable once published; a version never becomes current without having been
 * loaded (CLI: in a worker before publish) and a rollout only ever names published versions.
 * The gateway side (runtime/fleet-source.ts) reads rollouts, fetches and verifies bundles, loads
 * them through the reload pipeline and acknowledges; the CLI (deploy, versions, rollback,
 * rollout, secret) writes.
 */

/** Per-function settings that travel with a version (the manifest next to the entry). */
export interface FunctionSettings {
  readonly vars?: Readonly<Record<string, string>>;
  readonly poolSize?: number;
  readonly heapMb?: number;
  readonly timeoutMs?: number;
  readonly maxConcurrent?: number;
  /** Uploads (issue 15): the config's functions.NAME fields, honoured within the gateway's config (runtime/version-settings.ts). */
  readonly writes?: boolean;
  readonly maxUploadBytes?: number;
  readonly maxUploadsPerClient?: number;
  readonly allowOverwrite?: boolean;
  /** The function's own routes: globs (the route table's `match`) that send requests to it. */
  readonly routes?: readonly { readonly match: string; readonly stripPrefix?: boolean | string }[];
}

/** One published version: immutable. */
export interface VersionRecord {
  readonly function: string;
  /** `YYYYMMDDTHHMMSSmmmZ-<first 8 hex of sha256>`: sorts by publish time. */
  readonly id: string;
  /** Hex SHA-256 of the bundle's code: the bundle's name in the bucket, checked on every fetch. */
  readonly sha256: string;
  readonly bytes: number;
  readonly message?: string;
  /** ISO 8601. */
  readonly createdAt: string;
  /** Who published it: TFTPFN_DEPLOY_AUTHOR, else USER@HOSTNAME. */
  readonly author: string;
  /** The entry file it was built from, as the deployer named it. */
  readonly entry?: string;
  readonly settings: FunctionSettings;
}

/** Which version serves a function: one stable version, and optionally a canary for a share of clients. */
export interface Rollout {
  readonly stable: string;
  /** New sessions from `percent`% of clients (a stable hash of the MAC in the path, else the IP) go to `version`. */
  readonly canary?: { readonly version: string; readonly percent: number };
  /** Bumped on every change: a gateway compares it to know it is behind. */
  readonly revision: number;
  readonly updatedAt: string;
  /**
   * The stable version before the last change of `stable`, when the plane records it:
   * `tftpfn rollback` goes there by default (without it, to the version published before the
   * stable, which may be one that never served).
   */
  readonly previousStable?: string;
}

/** What one gateway last said about one function. */
export interface GatewayAck {
  readonly gateway: string;
  readonly function: string;
  /** The rollout revision it acted on. */
  readonly revision: number;
  /** The versions it now serves (stable, and the canary if any). */
  readonly serving: readonly string[];
  readonly ok: boolean;
  /** Why it rejected the rollout (a hash mismatch, a load error): a rejected version never serves. */
  readonly error?: string;
  readonly at: string;
}

/** A live gateway (it refreshes its heartbeat every few seconds; stale ones are not live). */
export interface GatewayPresence {
  readonly gateway: string;
  readonly at: string;
  readonly degraded?: string;
}

export interface PublishInput {
  readonly code: Uint8Array;
  readonly map?: Uint8Array;
  readonly sha256: string;
  readonly entry?: string;
  readonly message?: string;
  readonly author: string;
  readonly settings: FunctionSettings;
}

export interface ControlPlane {
  readonly kind: 'folder' | 'redis';
  /** Stores the bundle (idempotent by sha256) and records a new version. Does not change the rollout. */
  publish(name: string, input: PublishInput, onProgress?: (sentBytes: number, totalBytes: number) => void): Promise<VersionRecord>;
  /** Newest first; only the latest 100 are kept (older ones are pruned at publish, never one a rollout names). */
  versions(name: string): Promise<VersionRecord[]>;
  version(name: string, id: string): Promise<VersionRecord | undefined>;
  /** Every function with at least one version. */
  functions(): Promise<string[]>;
  rollout(name: string): Promise<Rollout | undefined>;
  /** Replaces the rollout (revision = previous + 1), then announces it. Throws if a named version does not exist. */
  setRollout(name: string, next: { stable: string; canary?: { version: string; percent: number } }): Promise<Rollout>;
  /** The bundle's code and map, verified against the record's sha256 (throws on a mismatch). */
  fetchBundle(record: VersionRecord): Promise<{ code: Buffer; map?: Buffer }>;
  /** Calls `listener(name)` when a rollout changes (pub/sub or a folder poll); returns unsubscribe. */
  watch(listener: (name: string) => void): () => void;
  ack(ack: GatewayAck): Promise<void>;
  /** The latest ack of every gateway for one function. */
  acks(name: string): Promise<GatewayAck[]>;
  heartbeat(presence: GatewayPresence, ttlMs: number): Promise<void>;
  /**
   * Takes a gateway off the live list at once (a clean shutdown), so a deploy right after it
   * does not wait for its acknowledgement until the heartbeat's TTL runs out. Harmless for an id
   * that is not live; a gateway that dies without calling it still expires by its TTL.
   */
  leave(gatewayId: string): Promise<void>;
  liveGateways(): Promise<GatewayPresence[]>;
  /** Secrets: stored encrypted (AES-256-GCM) with the key the gateways get from TFTPFN_SECRETS_KEY or a file. */
  putSecret(name: string, key: string, value: string): Promise<void>;
  deleteSecret(name: string, key: string): Promise<boolean>;
  /** Names only: values are never listed. */
  secretNames(name: string): Promise<string[]>;
  /** Decrypted values, for the gateway that builds the function's env. */
  secrets(name: string): Promise<Record<string, string>>;
  close(): Promise<void>;
}

/** The most versions kept per function (Workers keeps 100). */
export const MAX_VERSIONS = 100;

export class ControlPlaneError extends Error {
  override name = 'ControlPlaneError';
}
