import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadSecretsKey, openSecret, parseSecretsKey, sealSecret, SecretBoxError } from '../../../gateway/src/control/secret-box.js';

const KEY = Buffer.alloc(32, 7);
const OTHER = Buffer.alloc(32, 9);

function errorOf(f: () => unknown): Error {
  try {
    f();
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a throw');
}

describe('secret box', () => {
  it('round trip: a sealed value opens with the same key and slot, and does not contain the value', () => {
    const sealed = sealSecret(KEY, 'grub', 'PASSWORD', 'hunter2 ünïcode');
    expect(sealed.startsWith('v1:')).toBe(true);
    expect(sealed).not.toContain('hunter2');
    expect(Buffer.from(sealed.slice(3), 'base64').toString('latin1')).not.toContain('hunter2');
    expect(openSecret(KEY, 'grub', 'PASSWORD', sealed)).toBe('hunter2 ünïcode');
  });

  it('seal: the same value sealed twice differs (a fresh IV each time)', () => {
    expect(sealSecret(KEY, 'a', 'K', 'v')).not.toBe(sealSecret(KEY, 'a', 'K', 'v'));
  });

  it('open: a wrong key fails with an error naming the slot and the key setting, never the value', () => {
    const sealed = sealSecret(KEY, 'grub', 'PASSWORD', 'hunter2');
    const e = errorOf(() => openSecret(OTHER, 'grub', 'PASSWORD', sealed));
    expect(e).toBeInstanceOf(SecretBoxError);
    expect(e.message).toContain('secret "PASSWORD" of function "grub" cannot be decrypted');
    expect(e.message).toContain('secretsKey');
    expect(e.message).not.toContain('hunter2');
  });

  it('open: a value moved to another function or another key name does not open', () => {
    const sealed = sealSecret(KEY, 'db', 'PASSWORD', 'x');
    expect(() => openSecret(KEY, 'web', 'PASSWORD', sealed)).toThrow(SecretBoxError);
    expect(() => openSecret(KEY, 'db', 'TOKEN', sealed)).toThrow(SecretBoxError);
    // The separator keeps ("ab","c") apart from ("a","bc").
    expect(() => openSecret(KEY, 'dbP', 'ASSWORD', sealed)).toThrow(SecretBoxError);
  });

  it('open: an altered ciphertext, a truncated one and one without the prefix are refused', () => {
    const sealed = sealSecret(KEY, 'f', 'K', 'value');
    const raw = Buffer.from(sealed.slice(3), 'base64');
    raw[raw.length - 1] ^= 1;
    expect(() => openSecret(KEY, 'f', 'K', `v1:${raw.toString('base64')}`)).toThrow(/cannot be decrypted/);
    expect(() => openSecret(KEY, 'f', 'K', 'v1:AAAA')).toThrow(/truncated/);
    expect(() => openSecret(KEY, 'f', 'K', 'value')).toThrow(/not a sealed value/);
  });

  it('parseSecretsKey: 64 hex digits or base64 of 32 bytes (padded, unpadded, url-safe); nothing else', () => {
    const hex = KEY.toString('hex');
    expect(parseSecretsKey(hex)).toEqual(KEY);
    expect(parseSecretsKey(` ${hex.toUpperCase()}\n`)).toEqual(KEY);
    const rnd = Buffer.from('0123456789abcdef0123456789abcdef'.split('').map((c) => c.charCodeAt(0) * 3));
    expect(parseSecretsKey(rnd.toString('base64'))).toEqual(rnd);
    expect(parseSecretsKey(rnd.toString('base64').replace(/=+$/, ''))).toEqual(rnd);
    expect(parseSecretsKey(Buffer.alloc(32, 0xfb).toString('base64url'))).toEqual(Buffer.alloc(32, 0xfb));
    expect(parseSecretsKey(hex.slice(2))).toBeUndefined();
    expect(parseSecretsKey(Buffer.alloc(31).toString('base64'))).toBeUndefined();
    expect(parseSecretsKey('correct horse battery staple')).toBeUndefined();
  });

  it('loadSecretsKey: from the value, from a file, nothing when neither; errors name the field and how to make a key', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tftpfn-secret-key-'));
    try {
      expect(loadSecretsKey({})).toBeUndefined();
      expect(loadSecretsKey({ key: KEY.toString('hex') })).toEqual(KEY);
      const file = join(dir, 'key');
      writeFileSync(file, `${KEY.toString('base64')}\n`);
      expect(loadSecretsKey({ file })).toEqual(KEY);

      const bad = errorOf(() => loadSecretsKey({ key: 'short' }));
      expect(bad.message).toMatch(/^secretsKey: /);
      expect(bad.message).toContain('openssl rand -hex 32');
      expect(bad.message).not.toContain('short');

      const missing = errorOf(() => loadSecretsKey({ file: join(dir, 'nope') }));
      expect(missing.message).toMatch(/^secretsKeyFile: cannot read .*nope \(ENOENT\)/);
      expect(missing.message).toContain('openssl rand -hex 32');

      writeFileSync(file, 'not a key\n');
      expect(errorOf(() => loadSecretsKey({ file })).message).toMatch(/^secretsKeyFile: .* does not hold a key/);
      expect(errorOf(() => loadSecretsKey({ key: KEY.toString('hex'), file })).message).toContain('give one of them');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
