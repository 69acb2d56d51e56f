/**
 * What each config field means, for people: the README's configuration table is generated from
 * this list together with the schema (field names, JSON-only fields), the defaults (parsed from
 * the schema) and `tftpfn serve`'s flags, by `npm run docs:config` (scripts/gen-config-table.mjs);
 * test/unit/docs/config-table.test.ts fails when the README is stale or a field has no row.
 *
 * A row covers one field or a few that belong together. `unset` says what an optional field
 * with no default means (the schema's default is "absent"). `extra` rows are settings that are
 * not config fields (the V8 heap flags).
 */
export interface FieldDoc {
  readonly fields?: readonly string[];
  readonly unset?: Readonly<Record<string, string>>;
  readonly extra?: { readonly field: string; readonly flag: string; readonly env: string; readonly default: string };
  readonly meaning: string;
}

/** Fields given only in the JSON file (objects: no flag, no environment variable). */
export const JSON_ONLY_FIELDS: readonly string[] = ['functions', 'routes', 'defaultRoute'];

export const FIELD_DOCS: readonly FieldDoc[] = [
  { fields: ["hosts"], meaning: "addresses to listen on; a wildcard expands to one listener per interface address" },
  { fields: ["port"], meaning: "listening UDP port (0 = any)" },
  { fields: ["root"], meaning: "folder served; `tftpfn serve` needs it from `--root`, `TFTPFN_ROOT` or a config file (it no longer shares the working directory unasked: `--root .` does)" },
  { fields: ["singlePort"], meaning: "all traffic on the listening port (NAT, containers, Kubernetes)" },
  { fields: ["portRange"], unset: {portRange: "any" }, meaning: "ports for per-session sockets, `LOW-HIGH`" },
  { fields: ["maxBlockSize"], meaning: "largest `blksize` granted (512–65464: clients without the option always get 512)" },
  { fields: ["maxWindowSize"], meaning: "largest `windowsize` granted" },
  { fields: ["refuse"], meaning: "options never acknowledged (`blksize,tsize,timeout,windowsize`), as tftp-hpa `--refuse`" },
  { fields: ["timeoutMs"], meaning: "retransmit timeout (a client's `timeout` option overrides it for its session)" },
  { fields: ["retries"], meaning: "timeouts in a row before a session gives up" },
  { fields: ["firstPacketRetries"], meaning: "retransmits of the first packet (OACK or DATA 1) on our own timer before any ACK (0–10; reflection bound); a client that repeats its request gets the first packet again, once per request; past them the session listens two more timeouts without sending, so a late or resent ACK still finds it" },
  { fields: ["unprovenRetries"], meaning: "timeouts in a row after an ACK but before the peer has proven it receives our packets (0–100); each resends one block only" },
  { fields: ["maxWindowBytes"], meaning: "payload bytes in flight per session (512 B–1 GiB): `windowsize` is lowered in the OACK to fit, at least one block" },
  { fields: ["singlePortMaxWindowBytes", "singlePortMaxBlockSize"], meaning: "the same cap, and the largest `blksize`, in single-port mode, where every ACK can be forged blind ([docs/RELIABILITY.md](docs/RELIABILITY.md) §1)" },
  { fields: ["slowStartBlocks"], meaning: "blocks sent (and read ahead) before a peer's first ACK on its unguessable per-session port; that ACK opens the negotiated window" },
  { fields: ["singlePortSlowStart"], meaning: "where ACKs prove nothing (single-port mode, `sessionSocketPool` > 0, a `portRange` under 4096 ports) the window also starts at `slowStartBlocks` and grows one block per block acknowledged. Off by default: RFC 7440 clients ACK only at the end of their window, so each slow-start round waits for the client's own timeout (atftp, windowsize 16: 1 MiB in 4.3 s instead of 28 ms); `singlePortMaxWindowBytes` bounds those modes instead" },
  { fields: ["minProgressBytes", "progressIntervalMs"], meaning: "a session that moves fewer bytes per interval ends with ERROR 0 \"transfer too slow\" (outcome `too-slow`; 0 = no rule; time waiting on the source excepted)" },
  { fields: ["maxSessionMs"], meaning: "longest session (0 = no limit); beyond it ERROR 0 \"transfer took too long\", outcome `too-slow`" },
  { fields: ["strangerRepliesPerSecond"], meaning: "ERROR 5 replies to strangers' DATA/ACK, all sockets together (token bucket; 0 = never); the rest are counted (`strangerRepliesSuppressed`)" },
  { fields: ["sessionSocketPool"], meaning: "idle session sockets kept per local address for reuse (reused at random once a quarter is idle); 0 binds a fresh random port per session, which keeps ports unguessable at a cost in small-file throughput ([docs/RELIABILITY.md](docs/RELIABILITY.md) §1)" },
  { fields: ["backoffFactor", "maxTimeoutMs"], meaning: "timeout growth per retry, and its cap" },
  { fields: ["maxSessions"], meaning: "concurrent sessions" },
  { fields: ["maxSessionsPerClient"], meaning: "concurrent sessions per client IP" },
  { fields: ["maxSessionsPerPrefix"], meaning: "concurrent sessions per client network (1–1,000,000), so a flood from one network cannot fill `maxSessions`" },
  { fields: ["prefixLengthV4", "prefixLengthV6"], meaning: "what a client network is: bits of an IPv4 (1–32) or IPv6 (1–128) address; IPv4-mapped IPv6 counts as IPv4" },
  { fields: ["maxBufferBytes"], meaning: "window and read-ahead bytes all sessions may hold (1 MiB–1 TiB); a session reserves two of its current windows (one slow-start block until its peer ACKs, then the full window; at most its file's size), and a request or a window beyond the budget gets ERROR 0 \"server busy\"" },
  { fields: ["rateLimitPerClient", "rateLimitPerClientBurst"], meaning: "new requests per second per client address (0 = off), and how many may come at once (token bucket); past it requests are dropped silently" },
  { fields: ["rateLimitPerPrefix", "rateLimitPerPrefixBurst"], meaning: "the same per client network (a boot storm of 500 machines in one /24 fits)" },
  { fields: ["rateLimitGlobal", "rateLimitGlobalBurst"], meaning: "the same for all clients together" },
  { fields: ["rateLimitExempt"], meaning: "CIDRs the rate limits skip (not the session limits): loopback by default, since only local processes (benchmarks, tests) can send from there; `[]` limits everyone" },
  { fields: ["refusalLogSamples", "refusalLogIntervalMs"], meaning: "refusals (busy, rate-limited, client-denied) logged and recorded in full per reason per interval; the rest are counted and summed up in one `suppressed K similar` line" },
  { fields: ["allow", "deny"], meaning: "client CIDR lists; deny wins; denied requests are dropped silently" },
  { fields: ["writeRoot"], unset: {writeRoot: "off" }, meaning: "accept uploads (WRQ) into this folder; otherwise WRQ gets ERROR 2" },
  { fields: ["allowOverwrite"], meaning: "let uploads replace files (else ERROR 6)" },
  { fields: ["maxUploadBytes"], meaning: "larger uploads get ERROR 3" },
  { fields: ["uploadPartBytes", "uploadPartsInFlight"], meaning: "`s3Put()` uploads: part size (S3 wants at least 5 MiB) and parts in flight per upload; memory per upload stays under (1 + in flight) parts" },
  { fields: ["uploadSweepIntervalMs", "uploadSweepAgeMs"], meaning: "how often unfinished multipart uploads older than the age are aborted under the prefixes this gateway wrote (0 = never)" },
  { fields: ["allowManifestWrites"], meaning: "let a deployed version's manifest (`tftpfn.json` `\"writes\": true`) turn uploads on for its function on this gateway; off, only `functions.NAME.writes` here does. This config's upload limits stay ceilings either way ([docs/UPLOADS.md](docs/UPLOADS.md))" },
  { fields: ["readAheadBytes"], meaning: "bytes read from disk at a time" },
  { fields: ["fileCacheTtlMs"], meaning: "hot-file cache: contents of small files are trusted this long, then re-checked by inode, size and mtime (0 disables; a changed file is seen at most this late)" },
  { fields: ["fileCacheMaxFileBytes", "fileCacheMaxBytes"], meaning: "largest file cached, and the cache's total size (least recently used out first)" },
  { fields: ["socketBufferBytes"], meaning: "SO_SNDBUF/SO_RCVBUF asked for (capped by `net.core.*mem_max`)" },
  { fields: ["sendPath"], meaning: "how DATA windows leave: `auto` sends runs of equal blocks as one UDP GSO `sendmsg` where Linux 4.18+ and the optional `koffi` package allow it (probed at start, falls back on any error), `gso` the same with a warning when unusable, `plain` one datagram per send ([docs/PERFORMANCE.md](docs/PERFORMANCE.md))" },
  { fields: ["logLevel"], meaning: "pino level" },
  { fields: ["shutdownGraceMs"], meaning: "on SIGTERM/SIGINT, how long transfers in flight may finish" },
  { fields: ["processes"], meaning: "gateway processes on the listening port: each with its own `SO_REUSEPORT` socket on Node 22.12+ (a client's datagrams all reach one process, so `singlePort` works), sharing the primary's on Node 20 (where `singlePort` needs 1)" },
  { extra: { field: "(V8 heap)", flag: "", env: "`NODE_OPTIONS`", default: "`--max-semi-space-size=2 --max-old-space-size=512 --no-allocation-site-pretenuring --no-memory-reducer`" }, meaning: "V8 flags `tftpfn serve` starts with (it restarts itself with them on Node 22.15+/24; on Node 20 pass them to `node` yourself); heap flags you give win. The limits hold RSS under load near 90–100 MiB instead of 165–175; without pretenuring and the memory reducer a 1 KiB load runs ~1.4× as fast, also after the gateway idled ([docs/PERFORMANCE.md](docs/PERFORMANCE.md) \"Memory\")" },
  { fields: ["functions"], meaning: "named functions and their limits (JSON only; [docs/FUNCTIONS.md](docs/FUNCTIONS.md))" },
  { fields: ["deployDir"], unset: {deployDir: "off" }, meaning: "deploy folder of function versions, hot-reloaded" },
  { fields: ["reloadPollMs"], meaning: "how often the deploy folder is checked" },
  { fields: ["controlPlane", "controlPollMs", "controlCacheDir", "controlBucket", "controlPrefix"], unset: {controlPlane: "`folder` with `deployDir`, else `redis` with `redisUrl` + `objectStore` s3", controlCacheDir: "`$TMPDIR/tftpfn-control-<hash>`" }, meaning: "where deployed versions and rollouts come from, how often every rollout is re-read, where the versions served are cached for a start without the control plane, and the bundles' bucket and prefix ([docs/DEPLOY.md](docs/DEPLOY.md))" },
  { fields: ["secretsKey", "secretsKeyFile"], unset: {secretsKey: "none", secretsKeyFile: "none" }, meaning: "the key function secrets are sealed with (64 hex digits or base64 of 32 bytes), or a file holding it; never logged ([docs/DEPLOY.md](docs/DEPLOY.md))" },
  { fields: ["routes", "defaultRoute"], unset: {defaultRoute: "none" }, meaning: "glob → function or folder, then a default (JSON only; [docs/ROUTING.md](docs/ROUTING.md))" },
  { fields: ["remapFile"], unset: {remapFile: "off" }, meaning: "an in.tftpd `-m` remap file, applied before routing" },
  { fields: ["objectStore", "bucketsDir", "s3Endpoint", "s3Region", "s3ForcePathStyle", "s3AccessKeyId", "s3SecretAccessKey", "s3RequestTimeoutMs", "s3FirstByteTimeoutMs"], unset: {s3Endpoint: "AWS", s3Region: "the SDK chain, then `us-east-1`", s3AccessKeyId: "the SDK chain", s3SecretAccessKey: "the SDK chain" }, meaning: "where `s3Object()` and bucket routes read ([docs/OBJECTS.md](docs/OBJECTS.md))" },
  { fields: ["redisUrl"], unset: {redisUrl: "in memory" }, meaning: "Redis for the shared object cache, `env.kv` and stats: one server `redis://HOST:PORT[/DB]` (`rediss://` for TLS), Sentinel `redis-sentinel://H1:P1,H2:P2/MASTER[/DB]` or a Cluster `redis-cluster://H1:P1,H2:P2` ([docs/REDIS.md](docs/REDIS.md))" },
  { fields: ["cacheChunkBytes", "cacheWholeMaxBytes", "cacheMemoryBytes", "cacheTtlSeconds", "cacheFreshnessMs", "upstreamAttempts"], meaning: "chunk size, whole-object limit, memory, TTL, freshness, retries" },
  { fields: ["cacheHmacKey"], unset: {cacheHmacKey: "random per process, with a warning" }, meaning: "the fleet's secret for the integrity tag on what gateways cache in Redis; set the same 32+ characters on every gateway, or they share no entries ([docs/OBJECTS.md](docs/OBJECTS.md))" },
  { fields: ["memoryKvMaxBytes"], meaning: "the in-memory key-value store's size when there is no Redis" },
  { fields: ["gatewayId"], unset: {gatewayId: "HOSTNAME-PID" }, meaning: "names this gateway in records, stats and metrics" },
  { fields: ["statsToRedis", "statsStreamKey", "statsStreamMaxLen", "statsCounterTtlSeconds", "statsBufferMax", "statsFlushMs"], meaning: "session records to a Redis stream and per-minute counters ([docs/STATS.md](docs/STATS.md))" },
  { fields: ["metricsPort", "metricsHost"], unset: {metricsPort: "off" }, meaning: "Prometheus `/metrics`, `/healthz`, `/readyz` on this TCP port and address ([docs/METRICS.md](docs/METRICS.md)); probes from outside the host (containers, Kubernetes) need an address other than loopback: the image sets `0.0.0.0`, the DaemonSet the pod's address" },
  { fields: ["serverStatsIntervalMs"], meaning: "period of the `onServerStats` hook" },
];
