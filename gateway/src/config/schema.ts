/**
 * The gateway configuration: one schema (schema/), parsed once (load.ts) into a deep-frozen object.
 * Fields are grouped under `// ──` headers: protocol limits (what a client may negotiate) apart
 * from local policy (listeners, retransmission, admission, uploads), then the runtime, the
 * stores and stats, as rs-tftpd keeps OptionsProtocol apart from OptionsPrivate. Types, ranges
 * and defaults (defaults.ts) live here; the value types the fields are built from (int, num,
 * bool, list, cidrList: text from the environment and flags accepted, errors naming the fix) in
 * field-types.ts; checks across fields, and the ones that need routing or transport code, live
 * in checks.ts.
 */
import * as s from '../schema/index.js';
import { DEFAULTS } from './defaults.js';
import { OPTION_NAMES } from '../protocol/options.js';
import { crossFieldIssues, FUNCTION_NAME } from './checks.js';
import { bool, cidrList, int, list, num, stringMap } from './field-types.js';
import { redisUrlProblem } from '../redis/redis-spec.js';

/** Kept here for its importers (deploy, the deploy store); defined beside the other checks. */
export { FUNCTION_NAME };
/** Kept here for its importers (load.ts, control/manifest.ts); defined with the schemas. */
export { describeValue } from '../schema/index.js';

/** How one function runs: its code (or the deploy folder's current version) and its limits. */
export const functionConfigSchema = s
  .object({
    /** A source file (.ts/.js) bundled with esbuild at start; otherwise the deployed version. */
    entry: s.string().min(1).optional(),
    poolSize: int(1, 256).default(DEFAULTS.functionPoolSize),
    heapMb: int(16, 65536).default(DEFAULTS.functionHeapMb),
    timeoutMs: int(10, 3_600_000).default(DEFAULTS.functionTimeoutMs),
    maxConcurrent: int(1, 1_000_000).default(DEFAULTS.functionMaxConcurrent),
    /** Where file() responses are read from; the gateway's root when unset. */
    root: s.string().min(1).optional(),
    vars: stringMap.default({}),
    /** Handed to the function apart from vars and never logged. */
    secrets: stringMap.default({}),
    /** 'process': a sandboxed child process per worker (default); 'thread': a worker thread in the gateway, trusted code only. */
    isolation: s
      .enum(['process', 'thread'], { error: 'use "process" (sandboxed child processes, the default) or "thread" (worker threads inside the gateway: trusted code only)' })
      .default(DEFAULTS.functionIsolation),
    /** Data size limit of each sandboxed process (heap, ArrayBuffers, Node itself), MiB; default heapMb + 384. */
    memoryMb: int(128, 1_048_576).optional(),
    /** The user and group sandboxed processes run as; default nobody when the gateway runs as root. */
    uid: int(0, 4_294_967_294).optional(),
    gid: int(0, 4_294_967_294).optional(),
    /** Absolute files or folders a sandboxed function may read besides its bundle (e.g. an inventory file named in vars). */
    allowRead: s.array(s.string().regex(/^\//, 'use an absolute path, e.g. /etc/tftpfn/inventory.json')).default([]),
    /** Keep one idle sandboxed process started ahead, so a reload adopts it instead of starting Node (runtime/warm-spare.ts); on in `tftpfn dev`. */
    warmSpare: bool.default(DEFAULTS.functionWarmSpare),
    /** Log bounds: lines and bytes per invocation, and lines per second for the whole function. */
    logLinesPerInvocation: int(0, 1_000_000).default(DEFAULTS.functionLogLinesPerInvocation),
    logBytesPerInvocation: int(0, 1024 * 1024 * 1024).default(DEFAULTS.functionLogBytesPerInvocation),
    logLinesPerSecond: int(1, 1_000_000).default(DEFAULTS.functionLogLinesPerSecond),
    /** Uploads (WRQ) reach this function, which answers s3Put(), discard() or an error (docs/UPLOADS.md). */
    writes: bool.default(DEFAULTS.functionWrites),
    /** Largest upload through this function, bytes (ERROR 3); the gateway's maxUploadBytes when unset. */
    maxUploadBytes: int(0, Number.MAX_SAFE_INTEGER).optional(),
    /** Uploads in flight per client address through this function; more get ERROR 0 "too many sessions from this client" (outcome busy). */
    maxUploadsPerClient: int(1, 100_000).default(DEFAULTS.functionMaxUploadsPerClient),
    /** Let s3Put() replace an existing object; false: ERROR 6 when the key exists. */
    allowOverwrite: bool.default(DEFAULTS.allowOverwrite),
  })
  .superRefine((f, ctx) => {
    if (f.memoryMb !== undefined && f.memoryMb < f.heapMb + 128) {
      ctx.addIssue({ code: 'custom', path: ['memoryMb'], message: `memoryMb covers the heap (heapMb ${f.heapMb}) plus Node itself: use at least ${f.heapMb + 128}, or leave it out for heapMb + 384` });
    }
  });
export type FunctionConfig = s.Output<typeof functionConfigSchema>;

const routeTarget = s.object({ function: s.string().min(1).optional(), folder: s.string().min(1).optional(), bucket: s.string().min(1).optional(), prefix: s.string().optional() });

export const configSchema = s
  .object({
    // ── Protocol limits: what a client may negotiate (RFC 2347 options, RFC 2348 blksize, RFC 2349 timeout, RFC 7440 windowsize).
    // Below 512 would be a lie: RFC 1350 clients that send no blksize always get 512.
    maxBlockSize: int(512, 65464).default(DEFAULTS.maxBlockSize),
    maxWindowSize: int(1, 65535).default(DEFAULTS.maxWindowSize),
    refuse: list
      .refine((l) => l.every((o) => (OPTION_NAMES as readonly string[]).includes(o.toLowerCase())), `options are ${OPTION_NAMES.join(', ')}`)
      .default([]),
    maxTimeoutMs: int(10, 600_000).default(DEFAULTS.maxTimeoutMs),
    /** Payload bytes in flight per session; windowsize is lowered in the OACK to fit (at least one block). */
    maxWindowBytes: int(512, 1024 * 1024 * 1024).default(DEFAULTS.maxWindowBytes),
    /** The same cap in single-port mode, where every ACK can be forged blind (docs/RELIABILITY.md). */
    singlePortMaxWindowBytes: int(512, 1024 * 1024 * 1024).default(DEFAULTS.singlePortMaxWindowBytes),
    /** Largest blksize granted in single-port mode, where each forged ACK can buy a block (512–65464). */
    singlePortMaxBlockSize: int(512, 65464).default(DEFAULTS.singlePortMaxBlockSize),

    // ── Local policy: listeners and sockets.
    hosts: list.refine((h) => h.length > 0, 'give at least one address, e.g. 0.0.0.0 or ::1').default([...DEFAULTS.hosts]),
    port: int(0, 65535).default(DEFAULTS.port),
    root: s.string().min(1).default(DEFAULTS.root),
    singlePort: bool.default(DEFAULTS.singlePort),
    portRange: s
      .string()
      .regex(/^\d{1,5}-\d{1,5}$/, 'use the form LOW-HIGH, e.g. 50000-50999')
      .refine((s) => {
        const [lo, hi] = s.split('-').map(Number);
        return lo >= 1 && hi <= 65535 && lo <= hi;
      }, 'LOW must be at least 1, HIGH at most 65535, and LOW <= HIGH')
      .optional(),
    /** Idle session sockets kept per local address for reuse (0 = a fresh random port per session). */
    sessionSocketPool: int(0, 65535).default(DEFAULTS.sessionSocketPool),
    socketBufferBytes: int(0, 1024 * 1024 * 1024).default(DEFAULTS.socketBufferBytes),
    /** How DATA windows leave the socket (transport/batch-send): runs of equal blocks as one UDP GSO sendmsg, or one datagram per send. */
    sendPath: s
      .enum(['auto', 'gso', 'plain'], {
        error: 'use "auto" (UDP GSO where the kernel and the optional koffi package allow it, else one datagram per send), "gso" (the same, warning when GSO is unusable) or "plain" (one datagram per send)',
      })
      .default(DEFAULTS.sendPath),

    // ── Local policy: retransmission, slow start and session limits (docs/RELIABILITY.md).
    timeoutMs: int(10, 255_000).default(DEFAULTS.timeoutMs),
    retries: int(0, 100).default(DEFAULTS.retries),
    firstPacketRetries: int(0, 10).default(DEFAULTS.firstPacketRetries),
    backoffFactor: num(1, 10).default(DEFAULTS.backoffFactor),
    /** Timeouts in a row, one block resent each, after an ACK but before the peer has proven it receives our packets. */
    unprovenRetries: int(0, 100).default(DEFAULTS.unprovenRetries),
    /** Blocks sent before the first ACK (and, with singlePortSlowStart, the window a single-port session opens with). */
    slowStartBlocks: int(1, 65535).default(DEFAULTS.slowStartBlocks),
    /** Slow start also where ACKs prove nothing (single-port, socket pool, narrow portRange); stalls RFC 7440 clients each round. */
    singlePortSlowStart: bool.default(DEFAULTS.singlePortSlowStart),
    /** Bytes a session must move per progressIntervalMs (0 = no rule), and its longest life (0 = no limit). */
    minProgressBytes: int(0, 1024 * 1024 * 1024).default(DEFAULTS.minProgressBytes),
    progressIntervalMs: int(100, 3_600_000).default(DEFAULTS.progressIntervalMs),
    maxSessionMs: int(0, 7 * 24 * 3_600_000).default(DEFAULTS.maxSessionMs),
    /** ERROR 5 replies to strangers per second, all sockets together (token bucket; 0 = never reply). */
    strangerRepliesPerSecond: int(0, 1_000_000).default(DEFAULTS.strangerRepliesPerSecond),

    // ── Local policy: admission (who may start a session, how many, how fast).
    maxSessions: int(1, 1_000_000).default(DEFAULTS.maxSessions),
    maxSessionsPerClient: int(1, 1_000_000).default(DEFAULTS.maxSessionsPerClient),
    /** Concurrent sessions per client network (prefixLengthV4 / prefixLengthV6 bits). */
    maxSessionsPerPrefix: int(1, 1_000_000).default(DEFAULTS.maxSessionsPerPrefix),
    prefixLengthV4: int(1, 32).default(DEFAULTS.prefixLengthV4),
    prefixLengthV6: int(1, 128).default(DEFAULTS.prefixLengthV6),
    /** Bytes all sessions' windows and read-ahead may hold; a request beyond it is refused busy. */
    maxBufferBytes: int(1024 * 1024, 1024 * 1024 * 1024 * 1024).default(DEFAULTS.maxBufferBytes),
    /** New requests per second (token buckets; 0 = no limit) and the burst allowed at once. */
    rateLimitPerClient: int(0, 1_000_000).default(DEFAULTS.rateLimitPerClient),
    rateLimitPerClientBurst: int(1, 1_000_000).default(DEFAULTS.rateLimitPerClientBurst),
    rateLimitPerPrefix: int(0, 1_000_000).default(DEFAULTS.rateLimitPerPrefix),
    rateLimitPerPrefixBurst: int(1, 1_000_000).default(DEFAULTS.rateLimitPerPrefixBurst),
    rateLimitGlobal: int(0, 10_000_000).default(DEFAULTS.rateLimitGlobal),
    rateLimitGlobalBurst: int(1, 10_000_000).default(DEFAULTS.rateLimitGlobalBurst),
    /** Clients the rate limits skip (loopback by default: only local processes send from there). */
    rateLimitExempt: cidrList.default([...DEFAULTS.rateLimitExempt]),
    /** Refusal log lines and records: the first N per reason per interval, then one summary. */
    refusalLogSamples: int(0, 100_000).default(DEFAULTS.refusalLogSamples),
    refusalLogIntervalMs: int(100, 3_600_000).default(DEFAULTS.refusalLogIntervalMs),
    allow: cidrList.default([]),
    deny: cidrList.default([]),

    // ── Local policy: uploads and folder reads.
    writeRoot: s.string().min(1).optional(),
    allowOverwrite: bool.default(DEFAULTS.allowOverwrite),
    maxUploadBytes: int(0, Number.MAX_SAFE_INTEGER).default(DEFAULTS.maxUploadBytes),
    /** s3Put() uploads: part size (S3 wants at least 5 MiB) and parts in flight per upload; memory per upload stays under (1 + inFlight) parts. */
    uploadPartBytes: int(5 * 1024 * 1024, 512 * 1024 * 1024).default(DEFAULTS.uploadPartBytes),
    uploadPartsInFlight: int(1, 16).default(DEFAULTS.uploadPartsInFlight),
    /** How often unfinished multipart uploads older than uploadSweepAgeMs are aborted under the prefixes this gateway wrote (0 = never). */
    uploadSweepIntervalMs: int(0, 7 * 24 * 3600 * 1000).default(DEFAULTS.uploadSweepIntervalMs),
    uploadSweepAgeMs: int(60_000, 30 * 24 * 3600 * 1000).default(DEFAULTS.uploadSweepAgeMs),
    /** A deployed version's manifest (tftpfn.json "writes": true) may turn uploads on here; false: only functions.NAME.writes in this config does (docs/UPLOADS.md "Deployed functions"). */
    allowManifestWrites: bool.default(DEFAULTS.allowManifestWrites),
    readAheadBytes: int(512, 64 * 1024 * 1024).default(DEFAULTS.readAheadBytes),
    fileCacheTtlMs: int(0, 3_600_000).default(DEFAULTS.fileCacheTtlMs),
    fileCacheMaxFileBytes: int(0, 1024 * 1024 * 1024).default(DEFAULTS.fileCacheMaxFileBytes),
    fileCacheMaxBytes: int(0, 64 * 1024 * 1024 * 1024).default(DEFAULTS.fileCacheMaxBytes),

    // ── Runtime: the process, functions and routing.
    logLevel: s.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default(DEFAULTS.logLevel),
    shutdownGraceMs: int(0, 3_600_000).default(DEFAULTS.shutdownGraceMs),
    processes: int(1, 256).default(DEFAULTS.processes),
    functions: s.record(s.string(), functionConfigSchema).default({}),
    /** Deployed function versions (`tftpfn deploy`); watched and hot-reloaded. */
    deployDir: s.string().min(1).optional(),
    reloadPollMs: int(50, 3_600_000).default(DEFAULTS.reloadPollMs),
    /**
     * Where deployed versions and rollouts come from (issue 12, docs/DEPLOY.md): 'folder' (the
     * deploy folder, deployDir) or 'redis' (Redis + the bucket). Unset: 'folder' with deployDir,
     * else 'redis' with redisUrl and objectStore "s3", else none (config/checks.ts controlPlaneKind).
     */
    controlPlane: s.enum(['folder', 'redis'], { error: 'use "folder" (the deploy folder, deployDir) or "redis" (Redis and the S3 bucket)' }).optional(),
    /** Where this gateway keeps the bundles, records and settings it last served, to start from when the control plane is down. */
    controlCacheDir: s.string().min(1).optional(),
    /** How often every rollout is re-read, the fallback for a missed pub/sub message. */
    controlPollMs: int(100, 3_600_000).default(DEFAULTS.controlPollMs),
    /** The bucket (objectStore "s3") that holds the fleet's bundles, and their key prefix in it. */
    controlBucket: s.string().min(1).default(DEFAULTS.controlBucket),
    controlPrefix: s.string().regex(/^$|^[^/].*\/$/, 'use a prefix ending in "/" (e.g. "tftpfn/"), or "" for none').default(DEFAULTS.controlPrefix),
    /** The key function secrets are sealed with (64 hex digits or base64 of 32 bytes), or a file holding it; never logged. */
    secretsKey: s.string().min(1).optional(),
    secretsKeyFile: s.string().min(1).optional(),
    /** Ordered glob → function or folder rules; see docs/ROUTING.md. */
    routes: s.array(s.unknown()).default([]),
    /** Where a path no route matches goes; without it (and with routes) such paths get ERROR 1. */
    defaultRoute: routeTarget.optional(),
    /** An in.tftpd (tftp-hpa) -m remap file, applied before routing. */
    remapFile: s.string().min(1).optional(),

    // ── Stores: objects (S3 or a local folder), Redis, the shared cache and env.kv.
    /** Where s3Object() and bucket routes read: S3 (any S3-compatible server) or a local folder. */
    objectStore: s.enum(['local', 's3']).default(DEFAULTS.objectStore),
    /** The local stand-in for buckets: BUCKET/KEY under this folder. */
    bucketsDir: s.string().min(1).default(DEFAULTS.bucketsDir),
    s3Endpoint: s.url({ error: 'give a URL, e.g. http://127.0.0.1:9000 (or leave it out for AWS)' }).optional(),
    s3Region: s.string().min(1).optional(),
    s3ForcePathStyle: bool.default(DEFAULTS.s3ForcePathStyle),
    /** Explicit keys; without them the SDK's standard chain (env, profile, instance role) is used. */
    s3AccessKeyId: s.string().min(1).optional(),
    s3SecretAccessKey: s.string().min(1).optional(),
    s3RequestTimeoutMs: int(100, 600_000).default(DEFAULTS.s3RequestTimeoutMs),
    /** No response headers within this and an S3 call fails, so a hung S3 costs a client seconds, not 22 s. */
    s3FirstByteTimeoutMs: int(50, 600_000).default(DEFAULTS.s3FirstByteTimeoutMs),
    /**
     * Redis for the shared cache, env.kv and stats; in memory without it. One server
     * (redis://, rediss://), Sentinel (redis-sentinel://H1:P1,H2:P2/MASTER[/DB]) or a Cluster
     * (redis-cluster://H1:P1,H2:P2): redis/redis-spec.ts, docs/REDIS.md.
     */
    redisUrl: s
      .string()
      .superRefine((url, ctx) => {
        const problem = redisUrlProblem(url);
        if (problem) ctx.addIssue({ code: 'custom', message: problem });
      })
      .optional(),
    cacheChunkBytes: int(64 * 1024, 64 * 1024 * 1024).default(DEFAULTS.cacheChunkBytes),
    cacheWholeMaxBytes: int(0, 512 * 1024 * 1024).default(DEFAULTS.cacheWholeMaxBytes),
    cacheMemoryBytes: int(0, 64 * 1024 * 1024 * 1024).default(DEFAULTS.cacheMemoryBytes),
    cacheTtlSeconds: int(1, 30 * 24 * 3600).default(DEFAULTS.cacheTtlSeconds),
    cacheFreshnessMs: int(0, 24 * 3600 * 1000).default(DEFAULTS.cacheFreshnessMs),
    /**
     * The fleet's secret for the integrity tags on cached bytes in Redis (HMAC-SHA256), the same
     * on every gateway and never stored in Redis. Without it a gateway with redisUrl uses a
     * random key of its own: safe, but its Redis cache entries are not shared with the fleet.
     */
    cacheHmacKey: s.string().min(32, 'use at least 32 characters of random text, e.g. the output of `openssl rand -hex 32`, the same on every gateway').optional(),
    memoryKvMaxBytes: int(0, 64 * 1024 * 1024 * 1024).default(DEFAULTS.memoryKvMaxBytes),
    upstreamAttempts: int(1, 10).default(DEFAULTS.upstreamAttempts),

    // ── Stats: session records in Redis, Prometheus metrics, the server-stats hook.
    /** Names this gateway in stats and metrics; default HOSTNAME-PID. */
    gatewayId: s.string().regex(/^[A-Za-z0-9._:-]{1,100}$/, 'letters, digits, . _ : - (at most 100)').optional(),
    /** Push session records and per-minute counters to Redis (when redisUrl is set). */
    statsToRedis: bool.default(DEFAULTS.statsToRedis),
    statsStreamKey: s.string().min(1).default(DEFAULTS.statsStreamKey),
    /** The stream is trimmed to about this many records (XADD MAXLEN ~). */
    statsStreamMaxLen: int(100, 100_000_000).default(DEFAULTS.statsStreamMaxLen),
    statsCounterTtlSeconds: int(60, 365 * 24 * 3600).default(DEFAULTS.statsCounterTtlSeconds),
    /** Records kept in memory while Redis is unreachable; the oldest are dropped (and counted) beyond. */
    statsBufferMax: int(1, 10_000_000).default(DEFAULTS.statsBufferMax),
    statsFlushMs: int(10, 60_000).default(DEFAULTS.statsFlushMs),
    /** Prometheus /metrics, /healthz and /readyz on this TCP port; off when unset. */
    metricsPort: int(0, 65535).optional(),
    metricsHost: s.string().min(1).default(DEFAULTS.metricsHost),
    serverStatsIntervalMs: int(100, 24 * 3600 * 1000).default(DEFAULTS.serverStatsIntervalMs),
  })
  // Fields that must agree, the route table and function names: config/checks.ts.
  .superRefine((c, ctx) => {
    for (const issue of crossFieldIssues(c)) ctx.addIssue({ code: 'custom', path: issue.path, message: issue.message });
  });

export type GatewayConfig = Readonly<s.Output<typeof configSchema>>;
export type GatewayConfigInput = s.Input<typeof configSchema>;
