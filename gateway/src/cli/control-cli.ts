/**
 * What the control-plane verbs (deploy, versions, rollback, rollout, secret: issue 12) share:
 * the flags that say which control plane (the gateway's own config), the output they write
 * to, and waiting for the live gateways to acknowledge a rollout.
 *
 * Each verb's logic takes a ControlPlane and an Io, so unit tests drive it with an in-memory
 * plane and captured output; the commander action opens the real one from the flags.
 */
import { Option, type Command } from 'commander';
import { loadConfig } from '../config/load.js';
import { FUNCTION_NAME } from '../config/schema.js';
import type { GatewayConfig } from '../config/schema.js';
import type { ControlPlane, GatewayAck, Rollout } from '../control/control-plane.js';
import { openControlPlane } from '../control/open.js';
import { integer } from './arg-parsers.js';

/** Where a verb writes: stdout lines, stderr lines, and whether stdout is a terminal (progress redraws). */
export interface Io {
  out(line: string): void;
  err(line: string): void;
  /** Rewrites the current terminal line (TTY only). */
  redraw?(line: string): void;
  readonly isTTY: boolean;
}

export const processIo: Io = {
  out: (l) => void process.stdout.write(`${l}\n`),
  err: (l) => void process.stderr.write(`${l}\n`),
  redraw: (l) => void process.stdout.write(`\r\x1b[2K${l}`),
  get isTTY() {
    return process.stdout.isTTY === true;
  },
};

/** A refusal that names the fix; exitCode 2 for usage, 1 for everything else. */
export class ControlCliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

export function checkName(name: string): void {
  if (!FUNCTION_NAME.test(name)) {
    throw new ControlCliError(`invalid function name "${name}": use letters, digits, - and _ (at most 63), starting with a letter or digit`, 2);
  }
}

/** The flags that choose the control plane, as `tftpfn serve` takes them. */
export interface ControlFlags {
  config?: string;
  deployDir?: string;
  redisUrl?: string;
  controlBucket?: string;
  controlPrefix?: string;
  s3Endpoint?: string;
  s3Region?: string;
}

export function addControlOptions(cmd: Command): Command {
  return cmd
    .option('-c, --config <file>', "the gateway's JSON config file: the control plane it names (TFTPFN_CONFIG)")
    .addOption(new Option('-d, --deploy-dir <dir>', 'the local deploy folder (the embedded control plane)'))
    .addOption(new Option('--redis-url <url>', 'Redis of the fleet control plane (versions and rollouts; bundles go to the S3 bucket)'))
    .option('--control-bucket <bucket>', 'the bucket of the fleet\'s bundles (the gateway\'s "controlBucket", default tftpfn)')
    .option('--control-prefix <prefix>', 'their key prefix in it (the gateway\'s "controlPrefix", default control/)')
    .option('--s3-endpoint <url>', 'S3-compatible endpoint of the bucket (default AWS)')
    .option('--s3-region <region>', 'S3 region');
}

/** How long a verb waits for the live gateways' acks without --timeout-ms (issue 12: "default 10 s"). */
export const DEFAULT_ACK_TIMEOUT_MS = 10_000;

/** --timeout-ms, as every verb that changes a rollout takes it (the wait of settleRollout). */
export function addAckTimeoutOption(cmd: Command): Command {
  return cmd.option('--timeout-ms <ms>', 'how long to wait for the live gateways to acknowledge', integer(0, 3_600_000), DEFAULT_ACK_TIMEOUT_MS);
}

/** The flags of a verb that changes a rollout (deploy, rollback, rollout): the control plane's and --timeout-ms. */
export interface RolloutVerbFlags extends ControlFlags {
  timeoutMs: number;
}

/** The options of a verb that changes a rollout: --timeout-ms, then the control plane's (RolloutVerbFlags). */
export function addRolloutVerbOptions(cmd: Command): Command {
  return addControlOptions(addAckTimeoutOption(cmd));
}

/** The config the gateway would load from the same file, environment and flags. */
export function controlConfig(flags: ControlFlags, io: Io): GatewayConfig {
  const overrides: Record<string, unknown> = {
    // The folder the gateway serves need not exist where the deployer runs: it is not used here.
    root: '.',
    deployDir: flags.deployDir,
    redisUrl: flags.redisUrl,
    controlBucket: flags.controlBucket,
    controlPrefix: flags.controlPrefix,
    s3Endpoint: flags.s3Endpoint,
    s3Region: flags.s3Region,
  };
  // --redis-url on the command line means the fleet's plane, whose bundles live in S3 (config/checks.ts controlPlaneKind).
  if (flags.redisUrl !== undefined && flags.deployDir === undefined) Object.assign(overrides, { objectStore: 's3', controlPlane: 'redis' });
  if (flags.deployDir !== undefined) overrides.controlPlane = 'folder';
  return loadConfig({
    configFile: flags.config,
    flags: overrides,
    // The author's name is read by deploy itself, not by the gateway's config.
    onWarning: (w) => (w.includes('TFTPFN_DEPLOY_AUTHOR') ? undefined : io.err(`warning: ${w}`)),
  });
}

/** Opens the control plane, runs `body`, closes it; a ControlCliError or any failure becomes its exit code and one line. */
export async function withControlPlane(verb: string, flags: ControlFlags, io: Io, body: (cp: ControlPlane, config: GatewayConfig) => Promise<number>): Promise<number> {
  let cp: ControlPlane | undefined;
  try {
    const config = controlConfig(flags, io);
    cp = await openControlPlane(config, { oneShot: true });
    return await body(cp, config);
  } catch (e) {
    const code = e instanceof ControlCliError ? e.exitCode : 1;
    io.err(`tftpfn ${verb}: ${(e as Error).message}${code === 2 ? ` (see tftpfn ${verb} --help)` : ''}`);
    return code;
  } finally {
    await cp?.close().catch(() => undefined);
  }
}

/** A commander action: runs `body` on the control plane the flags name, with the process's stdout and stderr, and sets the exit code. */
export async function runControlVerb(verb: string, flags: ControlFlags, body: (cp: ControlPlane, io: Io) => Promise<number>): Promise<void> {
  process.exitCode = await withControlPlane(verb, flags, processIo, (cp) => body(cp, processIo));
}

/** A function that must exist: named in the error with the functions that do. */
export async function requireFunction(cp: ControlPlane, name: string): Promise<void> {
  checkName(name);
  if ((await cp.versions(name)).length > 0) return;
  const names = await cp.functions();
  const known = names.length ? `the functions here are ${names.join(', ')}` : 'no function is deployed here yet';
  throw new ControlCliError(`unknown function "${name}" (${known}); deploy it first: tftpfn deploy <entry> --name ${name}`);
}

export async function requireVersion(cp: ControlPlane, name: string, id: string): Promise<void> {
  if (await cp.version(name, id)) return;
  const ids = (await cp.versions(name)).slice(0, 3).map((v) => v.id);
  throw new ControlCliError(`"${name}" has no version ${id}; list them with tftpfn versions ${name} (newest: ${ids.join(', ') || 'none'})`);
}

export function describeRollout(r: Rollout): string {
  return r.canary ? `stable ${r.stable}, canary ${r.canary.version} for ${r.canary.percent}% of clients` : `stable ${r.stable}`;
}

export interface AckWait {
  readonly timeoutMs: number;
  /** Between two reads of the acks. */
  readonly pollMs?: number;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly now?: () => number;
}

export interface AckRow {
  readonly gateway: string;
  readonly ack?: GatewayAck;
}

/**
 * Waits until every live gateway has acknowledged `rollout` (an ack of its revision or a later
 * one), or the time is up; prints the table and returns the exit code: 0 all serve it, 1 one
 * rejected it, 3 one did not answer in time (the rollout stands: it loads when it can).
 */
export async function awaitAcks(cp: ControlPlane, name: string, rollout: Rollout, wait: AckWait, io: Io): Promise<number> {
  const sleep = wait.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const now = wait.now ?? Date.now;
  const live = await cp.liveGateways();
  if (live.length === 0) {
    io.out(`no gateway is live (none has sent a heartbeat to this ${cp.kind} control plane): nothing to wait for; a gateway loads ${name} when it starts`);
    return 0;
  }
  const deadline = now() + wait.timeoutMs;
  let rows: AckRow[];
  for (;;) {
    const acks = await cp.acks(name);
    rows = live.map((p) => ({ gateway: p.gateway, ack: acks.find((a) => a.gateway === p.gateway && a.revision >= rollout.revision) }));
    if (rows.every((r) => r.ack) || now() >= deadline) break;
    await sleep(Math.min(wait.pollMs ?? 100, Math.max(1, deadline - now())));
  }
  printAckTable(rows, wait.timeoutMs, io);
  const rejected = rows.filter((r) => r.ack && !r.ack.ok);
  const silent = rows.filter((r) => !r.ack).length;
  if (rejected.length) {
    for (const r of rejected) io.err(`${r.gateway} rejected it:\n  ${(r.ack!.error ?? 'no reason given').split('\n').join('\n  ')}`);
    io.err(`${rejected.length} of ${rows.length} gateway(s) rejected revision ${rollout.revision} of ${name} and serve what they served before`);
    return 1;
  }
  if (silent) {
    io.err(`${silent} of ${rows.length} gateway(s) did not answer within ${wait.timeoutMs} ms; the rollout stands and they load it when they can (check them with tftpfn versions ${name}, or wait longer with --timeout-ms)`);
    return 3;
  }
  io.out(`all ${rows.length} live gateway(s) serve revision ${rollout.revision} of ${name}`);
  return 0;
}

/**
 * After a rejection, puts the rollout back as it was, so a version a gateway refused does not
 * stay current (a gateway started later would load it and fail too) and the gateways that took
 * it return to what the others serve. Returns the exit code unchanged.
 */
export async function restoreOnReject(cp: ControlPlane, name: string, before: Rollout | undefined, code: number, io: Io): Promise<number> {
  if (code !== 1) return code;
  if (!before) {
    io.err(`${name} had no version before, so nothing serves it until a version loads; deploy a fixed version`);
    return code;
  }
  const back = await cp.setRollout(name, { stable: before.stable, ...(before.canary ? { canary: before.canary } : {}) });
  io.err(`${name}: the rollout is back to ${describeRollout(back)} (revision ${back.revision}); fix the version and deploy again`);
  return code;
}

/**
 * How every verb that changed a rollout ends (deploy, rollback, rollout): wait for the live
 * gateways' acknowledgements, and after a rejection put back the rollout from `before`.
 * Returns the exit code (awaitAcks's).
 */
export async function settleRollout(cp: ControlPlane, name: string, before: Rollout | undefined, rollout: Rollout, wait: AckWait, io: Io): Promise<number> {
  const code = await awaitAcks(cp, name, rollout, wait, io);
  return restoreOnReject(cp, name, before, code, io);
}

function printAckTable(rows: AckRow[], timeoutMs: number, io: Io): void {
  const cells = rows.map((r) => [r.gateway, r.ack ? (r.ack.serving.join(', ') || '-') : '-', !r.ack ? `no answer within ${timeoutMs} ms` : r.ack.ok ? 'ok' : `rejected: ${firstLine(r.ack.error ?? 'no reason given')}`]);
  for (const line of table(['GATEWAY', 'SERVING', 'STATUS'], cells)) io.out(line);
}

/** The reason's first line (a gateway may join a stack with ' | '): the whole of it goes to stderr below the table. */
const firstLine = (s: string) => s.split(/\n| \| at /)[0];

/** Columns padded to their widest cell; the last one is not padded. */
export function table(head: string[], rows: string[][]): string[] {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]?.length ?? 0)));
  const line = (r: string[]) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join('  ').trimEnd();
  return [line(head), ...rows.map(line)];
}
