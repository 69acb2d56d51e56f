/**
 * `tftpfn object put|ls|rm`: boot files into the buckets the gateway reads (s3Object()
 * responses, bucket routes), without a separate AWS CLI (issue 14).
 *
 *   tftpfn object put ipxe.efi boot/ipxe.efi      FILE to BUCKET/KEY (KEY defaults to the file's name)
 *   tftpfn object ls boot[/PREFIX]                keys, sizes and dates
 *   tftpfn object rm boot/ipxe.efi
 *
 * Which store: the gateway's own config (-c, TFTPFN_*, flags), so the command writes exactly
 * where the gateway reads: S3 or the local bucket folder, each behind the `ObjectBackend` of
 * object-backend.ts. `put` streams the file from disk (objects/file-upload.ts): at most
 * PUT_PARTS_IN_FLIGHT parts of the file in memory, whatever its size. This file is the verbs,
 * their messages and exit codes.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { basename } from 'node:path';
import { Command } from 'commander';
import { loadConfig } from '../config/load.js';
import type { GatewayConfig } from '../config/schema.js';
import { ObjectStoreError } from '../objects/object-store.js';
import { openBackend, type ObjectBackend } from './object-backend.js';
import { processIo, type Io } from './control-cli.js';

export interface ObjectFlags {
  config?: string;
  objectStore?: string;
  bucketsDir?: string;
  s3Endpoint?: string;
  s3Region?: string;
}

class ObjectCliError extends Error {
  constructor(message: string, readonly exitCode = 1) {
    super(message);
  }
}

/** "BUCKET/KEY", "s3://BUCKET/KEY" or just "BUCKET" (key empty). */
export function parseTarget(text: string): { bucket: string; key: string } {
  const s = text.replace(/^s3:\/\//, '');
  const slash = s.indexOf('/');
  const bucket = slash < 0 ? s : s.slice(0, slash);
  const key = slash < 0 ? '' : s.slice(slash + 1);
  if (bucket === '') throw new ObjectCliError(`"${text}" names no bucket: write BUCKET/KEY, e.g. boot/ipxe.efi`, 2);
  return { bucket, key };
}

/** The config the gateway would load, as the control-plane verbs do (its root need not exist here). */
export function objectConfig(flags: ObjectFlags, io: Io): GatewayConfig {
  return loadConfig({
    configFile: flags.config,
    flags: { root: '.', objectStore: flags.objectStore, bucketsDir: flags.bucketsDir, s3Endpoint: flags.s3Endpoint, s3Region: flags.s3Region },
    onWarning: (w) => io.err(`warning: ${w}`),
  });
}

const MIB = 1024 * 1024;
const size = (bytes: number) => (bytes >= MIB ? `${(bytes / MIB).toFixed(1)} MiB` : bytes >= 1024 ? `${(bytes / 1024).toFixed(1)} KiB` : `${bytes} B`);

/** Why, in words a user can act on. */
function explain(e: unknown, backend: string): string {
  if (e instanceof ObjectStoreError) {
    if (e.kind === 'not-found') return `${e.message}: not found (check the bucket and key; \`tftpfn object ls BUCKET\` lists them)`;
    if (e.kind === 'denied') return `${e.message}: access denied (check s3AccessKeyId / s3SecretAccessKey or the AWS credentials, or the folder's permissions)`;
    if (e.message.includes('CredentialsProviderError')) {
      return `${e.message}: no S3 credentials found (set s3AccessKeyId and s3SecretAccessKey, TFTPFN_S3_ACCESS_KEY_ID / TFTPFN_S3_SECRET_ACCESS_KEY, or AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or a profile)`;
    }
    return `${e.message}: ${backend} did not answer (check s3Endpoint and that the server is up)`;
  }
  return (e as Error).message;
}

export async function objectPut(backend: ObjectBackend, file: string, target: string, io: Io, nowMs = () => performance.now()): Promise<number> {
  const t = parseTarget(target);
  const ref = { bucket: t.bucket, key: t.key === '' || t.key.endsWith('/') ? `${t.key}${basename(file)}` : t.key };
  let fh: FileHandle;
  try {
    fh = await open(file, 'r');
  } catch (e) {
    throw new ObjectCliError(`cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  if (!(await fh.stat()).isFile()) {
    await fh.close();
    throw new ObjectCliError(`cannot read ${file}: not a regular file (EISDIR or a device)`);
  }
  const where = backend.where(ref);
  const started = nowMs();
  // On a terminal the line is redrawn per finished part; elsewhere (logs, CI) one line at the end.
  const onProgress = (sent: number, total: number) => {
    if (io.isTTY && io.redraw) io.redraw(`put ${file} -> ${where}  ${size(sent)} / ${size(total)}  ${total === 0 ? 100 : Math.floor((sent / total) * 100)}%`);
  };
  let totalBytes: number;
  try {
    totalBytes = await backend.putFile(ref, fh, onProgress);
  } finally {
    await fh.close().catch(() => {});
  }
  const seconds = (nowMs() - started) / 1000;
  if (io.isTTY && io.redraw) io.redraw('');
  io.out(`put ${file} -> ${where}  ${size(totalBytes)} in ${seconds.toFixed(1)} s`);
  return 0;
}

export async function objectList(backend: ObjectBackend, target: string, io: Io): Promise<number> {
  const t = parseTarget(target);
  const objects = await backend.list(t.bucket, t.key);
  for (const o of objects) io.out(`${o.lastModified ? o.lastModified.toISOString().slice(0, 19).replace('T', ' ') : '-'}  ${String(o.size).padStart(12)}  ${o.key}`);
  if (objects.length === 0) io.err(`no objects in ${t.bucket}${t.key ? ` under "${t.key}"` : ''}`);
  return 0;
}

export async function objectRemove(backend: ObjectBackend, target: string, io: Io): Promise<number> {
  const t = parseTarget(target);
  if (t.key === '' || t.key.endsWith('/')) throw new ObjectCliError(`"${target}" names no object: write BUCKET/KEY (rm removes one object)`, 2);
  await backend.remove(t);
  io.out(`removed ${backend.where(t)}`);
  return 0;
}

/** Runs one verb against the configured store; any failure is one line and an exit code. */
export async function runObject(verb: 'put' | 'ls' | 'rm', flags: ObjectFlags, io: Io, body: (b: ObjectBackend) => Promise<number>): Promise<number> {
  let backend: ObjectBackend | undefined;
  let kind = 'the object store';
  try {
    const config = objectConfig(flags, io);
    kind = config.objectStore === 's3' ? `S3${config.s3Endpoint ? ` at ${config.s3Endpoint}` : ''}` : `the bucket folder ${config.bucketsDir}`;
    backend = await openBackend(config, { create: verb === 'put' });
    return await body(backend);
  } catch (e) {
    const code = e instanceof ObjectCliError ? e.exitCode : e instanceof Error && e.name === 'ConfigError' ? 2 : 1;
    io.err(`tftpfn object ${verb}: ${explain(e, kind)}`);
    return code;
  } finally {
    await backend?.close().catch(() => undefined);
  }
}

function storeOptions(cmd: Command): Command {
  return cmd
    .option('-c, --config <file>', "the gateway's JSON config file: the object store it reads (TFTPFN_CONFIG)")
    .option('--object-store <kind>', '"s3" or "local" (the gateway\'s objectStore)')
    .option('--buckets-dir <dir>', 'the local bucket folder (objectStore "local"; the gateway\'s bucketsDir)')
    .option('--s3-endpoint <url>', 'S3-compatible endpoint, e.g. http://127.0.0.1:4568 (implies --object-store s3)')
    .option('--s3-region <region>', 'S3 region');
}

const withS3 = (o: ObjectFlags): ObjectFlags => (o.s3Endpoint !== undefined && o.objectStore === undefined ? { ...o, objectStore: 's3' } : o);

export function objectCommand(): Command {
  const cmd = new Command('object')
    .description('put, list and remove objects in the buckets the gateway reads (S3 or the local bucket folder)')
    .addHelpText(
      'after',
      [
        '',
        'The store is the gateway\'s: objectStore, bucketsDir and s3* from -c, TFTPFN_* or the flags. See docs/OBJECTS.md.',
        '',
        'Examples:',
        '  tftpfn object put ipxe.efi boot/               (to the bucket folder: buckets/boot/ipxe.efi)',
        '  tftpfn object put initrd.img boot/debian/initrd.img -c gateway.json',
        '  tftpfn object ls boot --s3-endpoint http://127.0.0.1:4568',
        '  tftpfn object rm boot/debian/initrd.img -c gateway.json',
      ].join('\n'),
    );
  cmd.addCommand(
    storeOptions(new Command('put').description('upload FILE to BUCKET/KEY (KEY defaults to the file name; multipart above 8 MiB)').argument('<file>').argument('<target>', 'BUCKET/KEY or BUCKET/PREFIX/')).action(
      async (file: string, target: string, opts: ObjectFlags) => {
        process.exitCode = await runObject('put', withS3(opts), processIo, (b) => objectPut(b, file, target, processIo));
      },
    ),
  );
  cmd.addCommand(
    storeOptions(new Command('ls').description('list the objects in BUCKET, or under BUCKET/PREFIX').argument('<target>', 'BUCKET or BUCKET/PREFIX')).action(async (target: string, opts: ObjectFlags) => {
      process.exitCode = await runObject('ls', withS3(opts), processIo, (b) => objectList(b, target, processIo));
    }),
  );
  cmd.addCommand(
    storeOptions(new Command('rm').description('remove the object BUCKET/KEY').argument('<target>', 'BUCKET/KEY')).action(async (target: string, opts: ObjectFlags) => {
      process.exitCode = await runObject('rm', withS3(opts), processIo, (b) => objectRemove(b, target, processIo));
    }),
  );
  return cmd;
}
