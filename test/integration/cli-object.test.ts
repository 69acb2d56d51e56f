/**
 * `tftpfn object put|ls|rm` against a real s3rver and the local bucket folder (issue 14).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { objectList, objectPut, objectRemove, runObject, type ObjectFlags } from '../../gateway/src/cli/object.js';
import { MULTIPART_PART_BYTES, S3ObjectStore } from '../../gateway/src/objects/s3-store.js';
import { startS3rver, type TestS3rver } from '../helpers/s3rver.js';
import { captureIo } from '../unit/cli/capture-io.js';

let s3: TestS3rver;
let dir: string;
let configFile: string;

beforeAll(async () => {
  s3 = await startS3rver();
  await s3.createBucket('boot');
  dir = mkdtempSync(join(tmpdir(), 'tftpfn-object-'));
  configFile = join(dir, 'gateway.json');
  writeFileSync(configFile, JSON.stringify({ ...s3.gatewayConfig }));
}, 30_000);

afterAll(async () => {
  await s3?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('tftpfn object on S3 (s3rver)', () => {
  const flags = (): ObjectFlags => ({ config: configFile });

  it('object put: a small file lands at BUCKET/KEY, readable through the gateway\'s store', async () => {
    const file = join(dir, 'ipxe.efi');
    writeFileSync(file, 'EFI boot bytes');
    const io = captureIo();
    expect(await runObject('put', flags(), io, (b) => objectPut(b, file, 'boot/', io))).toBe(0);
    expect(io.stdout).toHaveLength(1);
    expect(io.stdout[0]).toMatch(/^put .*ipxe\.efi -> s3:\/\/boot\/ipxe\.efi {2}14 B in \d+\.\d s$/);
    const store = new S3ObjectStore(s3.clientOptions);
    expect(Buffer.from(await store.get({ bucket: 'boot', key: 'ipxe.efi' })).toString()).toBe('EFI boot bytes');
    await store.close();
  });

  it('object put: a file above the part size goes multipart, and a TTY sees the line redrawn per part', async () => {
    const file = join(dir, 'initrd.img');
    const big = Buffer.alloc(2 * MULTIPART_PART_BYTES + 12345);
    for (let i = 0; i < big.length; i += 4096) big[i] = i % 251;
    writeFileSync(file, big);
    const redraws: string[] = [];
    const io = { ...captureIo(true), redraw: (l: string) => void redraws.push(l) };
    const out: string[] = [];
    io.out = (l) => void out.push(l);
    await s3.clearRequests();
    expect(await runObject('put', flags(), io, (b) => objectPut(b, file, 'boot/debian/initrd.img', io))).toBe(0);
    const parts = (await s3.requests()).filter((r) => r.method === 'PUT' && r.path.includes('partNumber='));
    expect(parts).toHaveLength(3);
    expect(redraws.filter((l) => l.includes('%'))).toEqual([
      expect.stringContaining('8.0 MiB / 16.0 MiB  49%'),
      expect.stringContaining('16.0 MiB / 16.0 MiB  99%'),
      expect.stringContaining('16.0 MiB / 16.0 MiB  100%'),
    ]);
    expect(out[0]).toContain('-> s3://boot/debian/initrd.img  16.0 MiB in');
    const store = new S3ObjectStore(s3.clientOptions);
    expect(Buffer.compare(Buffer.from(await store.get({ bucket: 'boot', key: 'debian/initrd.img' })), big)).toBe(0);
    await store.close();
  }, 60_000);

  it('object ls: lists keys with sizes, a prefix narrows it', async () => {
    const io = captureIo();
    expect(await runObject('ls', flags(), io, (b) => objectList(b, 'boot', io))).toBe(0);
    expect(io.stdout.map((l) => l.split(/\s+/).slice(-2))).toEqual([
      [String(2 * MULTIPART_PART_BYTES + 12345), 'debian/initrd.img'],
      ['14', 'ipxe.efi'],
    ]);
    const io2 = captureIo();
    await runObject('ls', flags(), io2, (b) => objectList(b, 's3://boot/deb', io2));
    expect(io2.stdout).toHaveLength(1);
    expect(io2.stdout[0]).toMatch(/debian\/initrd\.img$/);
  });

  it('object rm: removes one object; a missing one is an error naming it, not a silent success', async () => {
    const io = captureIo();
    expect(await runObject('rm', flags(), io, (b) => objectRemove(b, 'boot/ipxe.efi', io))).toBe(0);
    expect(io.stdout).toEqual(['removed s3://boot/ipxe.efi']);
    const again = captureIo();
    expect(await runObject('rm', flags(), again, (b) => objectRemove(b, 'boot/ipxe.efi', again))).toBe(1);
    expect(again.stderr[0]).toMatch(/^tftpfn object rm: S3 HeadObject.*boot\/ipxe\.efi.*not found \(check the bucket and key/);
  });

  it('object ls: a missing bucket says so in one line', async () => {
    const io = captureIo();
    expect(await runObject('ls', flags(), io, (b) => objectList(b, 'nosuchbucket', io))).toBe(1);
    expect(io.stderr).toHaveLength(1);
    expect(io.stderr[0]).toMatch(/NoSuchBucket.*not found/);
  });
});

describe('tftpfn object on the local bucket folder', () => {
  it('put creates bucketsDir/BUCKET/KEY, ls lists it, rm removes it', async () => {
    const bucketsDir = join(dir, 'buckets');
    const flags: ObjectFlags = { bucketsDir };
    const file = join(dir, 'grub.cfg');
    writeFileSync(file, 'set timeout=1\n');
    const io = captureIo();
    expect(await runObject('put', flags, io, (b) => objectPut(b, file, 'boot/grub/grub.cfg', io))).toBe(0);
    expect(readFileSync(join(bucketsDir, 'boot', 'grub', 'grub.cfg'), 'utf8')).toBe('set timeout=1\n');
    expect(io.stdout[0]).toContain(`-> ${join(bucketsDir, 'boot', 'grub', 'grub.cfg')}  14 B in`);
    const ls = captureIo();
    expect(await runObject('ls', flags, ls, (b) => objectList(b, 'boot', ls))).toBe(0);
    expect(ls.stdout).toHaveLength(1);
    expect(ls.stdout[0]).toMatch(/\s14 {2}grub\/grub\.cfg$/);
    const rm = captureIo();
    expect(await runObject('rm', flags, rm, (b) => objectRemove(b, 'boot/grub/grub.cfg', rm))).toBe(0);
    expect(existsSync(join(bucketsDir, 'boot', 'grub', 'grub.cfg'))).toBe(false);
  });

  it('a key climbing out of the bucket is refused', async () => {
    const flags: ObjectFlags = { bucketsDir: join(dir, 'buckets') };
    const file = join(dir, 'x');
    writeFileSync(file, 'x');
    const io = captureIo();
    expect(await runObject('put', flags, io, (b) => objectPut(b, file, 'boot/../../escape', io))).toBe(1);
    expect(io.stderr[0]).toMatch(/invalid bucket or key name.*access denied/);
    expect(existsSync(join(dir, 'escape'))).toBe(false);
  });

  it('ls on a bucket folder that does not exist names bucketsDir', async () => {
    const io = captureIo();
    expect(await runObject('ls', { bucketsDir: join(dir, 'none') }, io, (b) => objectList(b, 'boot', io))).toBe(1);
    expect(io.stderr[0]).toContain('does not exist (bucketsDir; objectStore "local")');
  });
});
