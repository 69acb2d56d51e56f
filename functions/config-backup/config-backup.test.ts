import { invoke, kvBinding, type KvBinding } from 'tftpfn/sdk';
import { describe, expect, test } from 'vitest';
import { deviceId, handle, makeHandler, plainFilename } from './index.js';

function sharedKv(): KvBinding {
  const map = new Map<string, Uint8Array>();
  return kvBinding({ get: async (k) => map.get(k), set: async (k, v) => void map.set(k, v), del: async (k) => void map.delete(k) });
}

const fixedDay = (d: string) => makeHandler(() => new Date(`${d}T12:00:00Z`));

describe('config-backup', () => {
  test('config-backup: stores an upload under backups/<client-ip>/<yyyy-mm-dd>/<filename>, bytes as sent', async () => {
    const result = await invoke(fixedDay('2026-12-07'), {
      path: 'sw1-running.cfg',
      kind: 'write',
      peer: { address: '10.1.2.3' },
      options: { tsize: '16' },
      body: 'hostname sw1\nend\n'.slice(0, 16),
    });
    expect(result.errorCode).toBeUndefined();
    expect(result.response).toEqual({ kind: 'put', bucket: 'backups', key: 'backups/10.1.2.3/2026-12-07/sw1-running.cfg', contentType: 'text/plain' });
    expect(result.request?.tsize).toBe(16);
    expect(result.stored?.body.toString()).toBe('hostname sw1\nend');
    expect(result.logs[0]?.msg).toBe('backup accepted');
  });

  test('config-backup: the bucket comes from env.vars.BUCKET; IPv4-mapped addresses are plain IPv4', async () => {
    const result = await invoke(fixedDay('2026-01-02'), { path: 'dump.bin', kind: 'write', peer: { address: '::ffff:192.0.2.9' } }, { vars: { BUCKET: 'dumps' } });
    expect(result.stored).toMatchObject({ bucket: 'dumps', key: 'backups/192.0.2.9/2026-01-02/dump.bin', contentType: undefined });
  });

  test('config-backup: reads are refused with ERROR 2', async () => {
    const result = await invoke(handle, { path: 'sw1-running.cfg' });
    expect(result.errorCode).toBe(2);
  });

  test.each([
    ['a folder', 'a/b.cfg'],
    ['a hidden name', '.profile'],
    ['spaces', 'my config.cfg'],
    ['a name too long', 'x'.repeat(129)],
    ['a dash first', '-rf'],
  ])('config-backup: refuses %s with ERROR 2 "give a plain filename"', async (_what, path) => {
    const result = await invoke(handle, { path, kind: 'write', body: 'x' });
    expect(result.errorCode).toBe(2);
    expect(result.errorMessage).toBe('give a plain filename');
    expect(result.stored).toBeUndefined();
  });

  test('config-backup: keeps the last KEEP_VERSIONS keys per device in env.kv, newest first; older ones are listed as expired', async () => {
    const kv = sharedKv();
    const env = { kv, vars: { KEEP_VERSIONS: '2' } };
    for (const d of ['2026-12-01', '2026-12-02', '2026-12-03']) {
      await invoke(fixedDay(d), { path: 'r.cfg', kind: 'write', peer: { address: '10.0.0.5' }, body: d }, env);
    }
    // The same file twice on one day is one version (the object is replaced: allowOverwrite).
    await invoke(fixedDay('2026-12-03'), { path: 'r.cfg', kind: 'write', peer: { address: '10.0.0.5' }, body: 'again' }, env);
    await invoke(fixedDay('2026-12-03'), { path: 'r.cfg', kind: 'write', peer: { address: '10.0.0.6' }, body: 'other device' }, env);
    expect(await kv.getJson('config-backup:versions:10.0.0.5')).toEqual(['backups/10.0.0.5/2026-12-03/r.cfg', 'backups/10.0.0.5/2026-12-02/r.cfg']);
    expect(await kv.getJson('config-backup:expired:10.0.0.5')).toEqual(['backups/10.0.0.5/2026-12-01/r.cfg']);
    expect(await kv.getJson('config-backup:versions:10.0.0.6')).toEqual(['backups/10.0.0.6/2026-12-03/r.cfg']);
  });

  test('config-backup: helpers', () => {
    expect(deviceId('FE80::1')).toBe('fe80::1');
    expect(plainFilename('ok_name-1.txt')).toBe('ok_name-1.txt');
    expect(plainFilename('..')).toBeUndefined();
  });
});
