/**
 * `tftpfn secret` against an in-memory control plane: put stores what stdin gave (and prints
 * no value), list shows names only, rm deletes; no secrets key, a bad key name, an empty value
 * are refused naming the fix.
 */
import { describe, expect, it } from 'vitest';
import { listSecrets, NO_SECRETS_KEY, putSecret, removeSecret } from '../../../gateway/src/cli/secret.js';
import { parseConfig } from '../../../gateway/src/config/load.js';
import { captureIo } from './capture-io.js';
import { FakeControlPlane } from '../control/fake-control-plane.js';

const keyed = parseConfig({ secretsKey: 'a'.repeat(64) });
const VALUE = 's3cr3t-value-xyz';

describe('secret', () => {
  it('secret: put stores the value from stdin without printing it; list shows names only; rm deletes', async () => {
    const cp = new FakeControlPlane();
    const io = captureIo();
    expect(await putSecret(cp, keyed, 'grub', 'API_TOKEN', async () => VALUE, io)).toBe(0);
    expect(await putSecret(cp, keyed, 'grub', 'DB_PASS', async () => 'other', io)).toBe(0);
    expect(await cp.secrets('grub')).toEqual({ API_TOKEN: VALUE, DB_PASS: 'other' });
    expect(io.stdout[0]).toBe(`grub: secret API_TOKEN set (${VALUE.length} bytes, encrypted); running gateways load it within one check of the control plane (controlPollMs, 5 s by default) without a restart; a gateway that starts uses it at once`);
    const list = captureIo();
    expect(await listSecrets(cp, 'grub', list)).toBe(0);
    expect(list.stdout).toEqual(['API_TOKEN', 'DB_PASS']);
    expect(io.text() + list.text()).not.toContain(VALUE);
    const rm = captureIo();
    expect(await removeSecret(cp, 'grub', 'DB_PASS', rm)).toBe(0);
    expect(rm.stdout).toEqual(['grub: secret DB_PASS deleted']);
    expect(await cp.secretNames('grub')).toEqual(['API_TOKEN']);
    await expect(removeSecret(cp, 'grub', 'DB_PASS', captureIo())).rejects.toThrow('grub has no secret DB_PASS (its secrets: API_TOKEN)');
    const none = captureIo();
    await listSecrets(cp, 'other', none);
    expect(none.stdout).toEqual(['other: no secrets']);
  });

  it('secret: without a secrets key, put is refused with the fix and stdin is not read', async () => {
    const cp = new FakeControlPlane();
    let read = false;
    await expect(
      putSecret(cp, parseConfig({}), 'grub', 'API_TOKEN', async () => ((read = true), VALUE), captureIo()),
    ).rejects.toThrow(NO_SECRETS_KEY);
    expect(NO_SECRETS_KEY).toContain('set TFTPFN_SECRETS_KEY (openssl rand -hex 32) or secretsKeyFile');
    expect(read).toBe(false);
    expect(await cp.secretNames('grub')).toEqual([]);
  });

  it('secret: a bad key name, a bad function name and an empty value are refused', async () => {
    const cp = new FakeControlPlane();
    await expect(putSecret(cp, keyed, 'grub', 'API-TOKEN', async () => VALUE, captureIo())).rejects.toThrow('invalid secret name "API-TOKEN": use letters, digits and _');
    await expect(putSecret(cp, keyed, '../x', 'K', async () => VALUE, captureIo())).rejects.toThrow('invalid function name "../x"');
    await expect(putSecret(cp, keyed, 'grub', 'K', async () => '', captureIo())).rejects.toThrow('no value on stdin for K: pipe it in');
    expect(await cp.secretNames('grub')).toEqual([]);
  });
});
