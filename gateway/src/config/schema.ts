/**
 * The gateway configuration: one zod schema, parsed once into a frozen object.
 * Negotiable limits (blksize, windowsize) sit apart from local policy (retries, writes, limits).
 */
import { z } from 'zod';
import { DEFAULTS } from './defaults.js';
import { OPTION_NAMES } from '../protocol/options.js';
import { parseCidr } from '../transport/cidr.js';

const int = (min: number, max: number) => {
  const fix = `use a whole number from ${min} to ${max}`;
  return z.coerce.number({ error: fix }).int(fix).min(min, fix).max(max, fix);
};
const bool = z.preprocess((v) => (v === 'true' || v === '1' ? true : v === 'false' || v === '0' ? false : v), z.boolean());
const list = z.preprocess((v) => (typeof v === 'string' ? v.split(',').map((s) => s.trim()).filter(Boolean) : v), z.array(z.string()));
const cidrList = list.superRefine((items, ctx) => {
  for (const item of items) {
    try {
      parseCidr(item);
    } catch (e) {
      ctx.addIssue({ code: 'custom', message: (e as Error).message });
    }
  }
});

export const configSchema = z
  .object({
    hosts: list.refine((h) => h.length > 0, 'give at least one address, e.g. 0.0.0.0 or ::1').default([...DEFAULTS.hosts]),
    port: int(0, 65535).default(DEFAULTS.port),
    root: z.string().min(1).default(DEFAULTS.root),
    singlePort: bool.default(DEFAULTS.singlePort),
    portRange: z
      .string()
      .regex(/^\d{1,5}-\d{1,5}$/, 'use the form LOW-HIGH, e.g. 50000-50999')
      .refine((s) => {
        const [lo, hi] = s.split('-').map(Number);
        return lo >= 1 && hi <= 65535 && lo <= hi;
      }, 'LOW must be at least 1, HIGH at most 65535, and LOW <= HIGH')
      .optional(),
    // Below 512 would be a lie: RFC 1350 clients that send no blksize always get 512.
    maxBlockSize: int(512, 65464).default(DEFAULTS.maxBlockSize),
    maxWindowSize: int(1, 65535).default(DEFAULTS.maxWindowSize),
    refuse: list
      .refine((l) => l.every((o) => (OPTION_NAMES as readonly string[]).includes(o.toLowerCase())), `options are ${OPTION_NAMES.join(', ')}`)
      .default([]),
    timeoutMs: int(10, 255_000).default(DEFAULTS.timeoutMs),
    retries: int(0, 100).default(DEFAULTS.retries),
    firstPacketRetries: int(0, 10).default(DEFAULTS.firstPacketRetries),
    backoffFactor: z.coerce.number().min(1).max(10).default(DEFAULTS.backoffFactor),
    maxTimeoutMs: int(10, 600_000).default(DEFAULTS.maxTimeoutMs),
    maxSessions: int(1, 1_000_000).default(DEFAULTS.maxSessions),
    maxSessionsPerClient: int(1, 1_000_000).default(DEFAULTS.maxSessionsPerClient),
    allow: cidrList.default([]),
    deny: cidrList.default([]),
    writeRoot: z.string().min(1).optional(),
    allowOverwrite: bool.default(DEFAULTS.allowOverwrite),
    maxUploadBytes: int(0, Number.MAX_SAFE_INTEGER).default(DEFAULTS.maxUploadBytes),
    readAheadBytes: int(512, 64 * 1024 * 1024).default(DEFAULTS.readAheadBytes),
    fileCacheTtlMs: int(0, 3_600_000).default(DEFAULTS.fileCacheTtlMs),
    fileCacheMaxFileBytes: int(0, 1024 * 1024 * 1024).default(DEFAULTS.fileCacheMaxFileBytes),
    fileCacheMaxBytes: int(0, 64 * 1024 * 1024 * 1024).default(DEFAULTS.fileCacheMaxBytes),
    socketBufferBytes: int(0, 1024 * 1024 * 1024).default(DEFAULTS.socketBufferBytes),
    logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default(DEFAULTS.logLevel),
    shutdownGraceMs: int(0, 3_600_000).default(DEFAULTS.shutdownGraceMs),
    processes: int(1, 256).default(DEFAULTS.processes),
  })
  .strict()
  .superRefine((c, ctx) => {
    if (c.singlePort && c.processes > 1) {
      ctx.addIssue({
        code: 'custom',
        path: ['processes'],
        message: 'single-port mode needs every packet of a session in one process: use processes=1 with singlePort, or turn singlePort off',
      });
    }
    if (c.singlePort && c.portRange) {
      ctx.addIssue({ code: 'custom', path: ['portRange'], message: 'portRange has no effect in single-port mode: remove one of them' });
    }
  });

export type GatewayConfig = Readonly<z.infer<typeof configSchema>>;
export type GatewayConfigInput = z.input<typeof configSchema>;
