import { describe, expect, it } from 'vitest';
import { canaryBucket, clientIdentity, picksCanary } from '../../../gateway/src/runtime/canary-pick.js';

describe('canary pick', () => {
  it('splits 1,000 client identities 30% ± 5% at a 30% canary', () => {
    let canary = 0;
    for (let i = 0; i < 1000; i++) if (picksCanary(`ip:10.${(i >> 8) & 255}.${i & 255}.7`, 'grub', 30)) canary++;
    expect(canary).toBeGreaterThanOrEqual(250);
    expect(canary).toBeLessThanOrEqual(350);
  });

  it('splits 1,000 MAC identities 30% ± 5% too', () => {
    let canary = 0;
    for (let i = 0; i < 1000; i++) {
      const mac = `52:54:00:00:${((i >> 8) & 255).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`;
      if (picksCanary(`mac:${mac}`, 'ipxe', 30)) canary++;
    }
    expect(canary).toBeGreaterThanOrEqual(250);
    expect(canary).toBeLessThanOrEqual(350);
  });

  it('gives the same identity the same answer every time', () => {
    for (let i = 0; i < 200; i++) {
      const id = `ip:192.0.2.${i}`;
      const first = picksCanary(id, 'hello', 30);
      for (let k = 0; k < 10; k++) expect(picksCanary(id, 'hello', 30)).toBe(first);
    }
  });

  it('is monotonic in the percent: a client in the 10% canary stays in it at 30%', () => {
    for (let i = 0; i < 500; i++) {
      const id = `ip:198.51.100.${i % 256}-${i}`;
      if (picksCanary(id, 'grub', 10)) expect(picksCanary(id, 'grub', 30)).toBe(true);
    }
  });

  it('takes nobody at 0% and everybody at 100%', () => {
    for (let i = 0; i < 100; i++) {
      expect(picksCanary(`ip:203.0.113.${i}`, 'f', 0)).toBe(false);
      expect(picksCanary(`ip:203.0.113.${i}`, 'f', 100)).toBe(true);
    }
  });

  it('hashes the function in, so the buckets differ between functions', () => {
    let same = 0;
    for (let i = 0; i < 100; i++) if (canaryBucket(`ip:10.0.0.${i}`, 'a') === canaryBucket(`ip:10.0.0.${i}`, 'b')) same++;
    expect(same).toBeLessThan(5);
  });

  it('names the client by the MAC in the path, else by the peer address', () => {
    expect(clientIdentity('grub/grub.cfg-01-52-54-00-12-34-56', '10.0.0.9')).toBe('mac:52:54:00:12:34:56');
    expect(clientIdentity('boot.ipxe', '10.0.0.9')).toBe('ip:10.0.0.9');
  });
});
