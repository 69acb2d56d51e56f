import { describe, expect, it } from 'vitest';
import { Admission, type AdmissionConfig, type AdmissionTicket } from '../../../gateway/src/admission/admission.js';

const base: AdmissionConfig = {
  maxSessions: 10_000,
  maxSessionsPerClient: 64,
  maxSessionsPerPrefix: 1024,
  prefixLengthV4: 24,
  prefixLengthV6: 64,
  maxBufferBytes: 1 << 30,
  rateLimitPerClient: 0,
  rateLimitPerClientBurst: 1,
  rateLimitPerPrefix: 0,
  rateLimitPerPrefixBurst: 1,
  rateLimitGlobal: 0,
  rateLimitGlobalBurst: 1,
  rateLimitExempt: [],
};

function admitted(a: Admission, address: string, now = 0): AdmissionTicket {
  const v = a.admit(address, now);
  if (!v.admitted) throw new Error(`refused: ${v.limit}`);
  return v.ticket;
}

describe('admission', () => {
  it('admission: per-prefix limit refuses a whole /24 while another /24 is still admitted', () => {
    const a = new Admission({ ...base, maxSessionsPerPrefix: 3 }, 0);
    for (const host of [1, 2, 3]) admitted(a, `10.0.0.${host}`);
    expect(a.admit('10.0.0.4', 0)).toMatchObject({ admitted: false, reason: 'busy', limit: 'prefix', prefix: '10.0.0.0/24' });
    expect(a.admit('10.0.1.4', 0).admitted).toBe(true);
  });

  it('admission: per-client limit comes before the prefix limit, and release frees both', () => {
    const a = new Admission({ ...base, maxSessionsPerClient: 1, maxSessionsPerPrefix: 2 }, 0);
    const t = admitted(a, '2001:db8::1');
    expect(a.admit('2001:db8::1', 0)).toMatchObject({ admitted: false, limit: 'client' });
    admitted(a, '2001:db8::2');
    expect(a.admit('2001:db8::3', 0)).toMatchObject({ admitted: false, limit: 'prefix', prefix: '2001:db8::/64' });
    a.release(t);
    a.release(t); // twice: no effect
    expect(a.sessionsOfClient('2001:db8::1')).toBe(0);
    expect(a.sessionsOfPrefix('2001:db8::/64')).toBe(1);
    expect(a.activeSessions).toBe(1);
    expect(a.admit('2001:db8::3', 0).admitted).toBe(true);
  });

  it('admission: the global session cap refuses busy', () => {
    const a = new Admission({ ...base, maxSessions: 2 }, 0);
    admitted(a, '10.0.0.1');
    admitted(a, '10.9.0.1');
    expect(a.admit('10.8.0.1', 0)).toMatchObject({ admitted: false, reason: 'busy', limit: 'sessions' });
  });

  it('admission: one flooding address is rate-limited by its own bucket; its neighbours are not', () => {
    const a = new Admission({ ...base, maxSessionsPerClient: 1_000_000, maxSessionsPerPrefix: 1_000_000, rateLimitPerClient: 10, rateLimitPerClientBurst: 20, rateLimitPerPrefix: 1000, rateLimitPerPrefixBurst: 1000 }, 0);
    let ok = 0;
    for (let i = 0; i < 1000; i++) if (a.admit('198.51.100.7', i).admitted) ok++;
    // 20 burst + 10/s over one second.
    expect(ok).toBe(29);
    expect(a.admit('198.51.100.7', 950)).toMatchObject({ admitted: false, reason: 'rate-limited', limit: 'client-rate' });
    expect(a.admit('198.51.100.8', 950).admitted).toBe(true);
  });

  it('admission: the prefix bucket stops a flood spread over many addresses of one prefix', () => {
    const a = new Admission({ ...base, rateLimitPerClient: 100, rateLimitPerClientBurst: 100, rateLimitPerPrefix: 50, rateLimitPerPrefixBurst: 50 }, 0);
    let ok = 0;
    for (let i = 0; i < 200; i++) {
      const v = a.admit(`203.0.113.${i % 250}`, 0);
      if (v.admitted) {
        ok++;
        a.release(v.ticket);
      } else {
        expect(v.limit).toBe('prefix-rate');
      }
    }
    expect(ok).toBe(50);
    expect(a.admit('203.0.114.1', 0).admitted).toBe(true);
  });

  it('admission: the global bucket bounds everyone together', () => {
    const a = new Admission({ ...base, rateLimitGlobal: 5, rateLimitGlobalBurst: 5 }, 0);
    const verdicts = Array.from({ length: 8 }, (_, i) => a.admit(`10.${i}.0.1`, 0));
    expect(verdicts.filter((v) => v.admitted)).toHaveLength(5);
    expect(verdicts[7]).toMatchObject({ admitted: false, limit: 'global-rate' });
  });

  it('admission: exempt networks skip the rate limits but not the session limits', () => {
    const a = new Admission({ ...base, maxSessionsPerClient: 30, rateLimitPerClient: 1, rateLimitPerClientBurst: 1, rateLimitExempt: ['127.0.0.0/8'] }, 0);
    for (let i = 0; i < 30; i++) admitted(a, '127.0.0.1');
    expect(a.admit('127.0.0.1', 0)).toMatchObject({ admitted: false, limit: 'client' });
    admitted(a, '10.0.0.1');
    expect(a.admit('10.0.0.1', 0)).toMatchObject({ admitted: false, limit: 'client-rate' });
  });

  it('admission: a request looked at again (rateChecked) is not charged a second token', () => {
    const a = new Admission({ ...base, maxSessionsPerClient: 1, rateLimitPerClient: 1, rateLimitPerClientBurst: 2 }, 0);
    const t = admitted(a, '10.0.0.1');
    expect(a.admit('10.0.0.1', 0)).toMatchObject({ admitted: false, limit: 'client' }); // second token spent
    a.release(t);
    // Decided again after its predecessor ended: the session limit only.
    expect(a.admit('10.0.0.1', 0, { rateChecked: true }).admitted).toBe(true);
  });

  it('admission: prefixes and exemptions stay right past the address cache (a flood of distinct addresses)', () => {
    const a = new Admission({ ...base, rateLimitPerClient: 1, rateLimitPerClientBurst: 1, rateLimitExempt: ['10.9.0.0/16'] }, 0);
    for (let i = 0; i < 20_000; i++) expect(a.prefixOf(`172.${16 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`)).toBe(`172.${16 + (i >> 16)}.${(i >> 8) & 255}.0/24`);
    expect(a.prefixOf('2001:db8:7:8::1')).toBe('2001:db8:7:8::/64');
    // Exempt: never rate-limited, however often; not exempt: the second request is.
    for (let i = 0; i < 5; i++) a.release((a.admit('10.9.1.1', 0) as { ticket: AdmissionTicket }).ticket);
    expect(a.admit('10.8.1.1', 0).admitted).toBe(true);
    expect(a.admit('10.8.1.1', 0)).toMatchObject({ admitted: false, limit: 'client-rate' });
  });

  it('admission: buffers are reserved per ticket and returned on release', () => {
    const a = new Admission({ ...base, maxBufferBytes: 10 << 20 }, 0);
    const t1 = admitted(a, '10.0.0.1');
    const t2 = admitted(a, '10.0.0.2');
    expect(a.reserveBuffers(t1, 8 << 20)).toBe(true);
    expect(a.reserveBuffers(t2, 8 << 20)).toBe(false);
    expect(a.budget.reservedBytes).toBe(8 << 20);
    a.release(t1);
    expect(a.budget.reservedBytes).toBe(0);
    expect(a.reserveBuffers(t2, 8 << 20)).toBe(true);
    expect(a.reserveBuffers(t1, 1)).toBe(false); // a released ticket reserves nothing
  });
});
