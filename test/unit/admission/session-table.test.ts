import { describe, expect, it } from 'vitest';
import { Admission, type AdmissionConfig, type AdmissionTicket } from '../../../gateway/src/admission/admission.js';
import { DEFER_MAX_MS, peerKey, SessionTable } from '../../../gateway/src/admission/session-table.js';
import { newServerCounters } from '../../../gateway/src/stats/counters.js';
import type { SessionDriver } from '../../../gateway/src/transport/session-driver.js';

const config: AdmissionConfig = {
  maxSessions: 10,
  maxSessionsPerClient: 10,
  maxSessionsPerPrefix: 10,
  prefixLengthV4: 24,
  prefixLengthV6: 64,
  maxBufferBytes: 1 << 20,
  rateLimitPerClient: 0,
  rateLimitPerClientBurst: 1,
  rateLimitPerPrefix: 0,
  rateLimitPerPrefixBurst: 1,
  rateLimitGlobal: 0,
  rateLimitGlobalBurst: 1,
  rateLimitExempt: [],
};

function setup(overrides: Partial<AdmissionConfig> = {}) {
  const admission = new Admission({ ...config, ...overrides }, 0);
  const counters = newServerCounters();
  const table = new SessionTable(admission, counters);
  const ticket = (address: string): AdmissionTicket => {
    const v = admission.admit(address, 0);
    if (!v.admitted) throw new Error('not admitted');
    return v.ticket;
  };
  return { admission, counters, table, ticket };
}

/** A driver stand-in that records what the table asked of it. */
function fakeDriver() {
  const calls: string[] = [];
  const driver = { repeatRequest: () => calls.push('repeat'), cancel: (why: string) => calls.push(`cancel:${why}`) } as unknown as SessionDriver;
  return { driver, calls };
}

describe('admission: session table', () => {
  it('session table: the same request bytes again are a duplicate: counted, and the session repeats its first packet', () => {
    const { table, counters, ticket } = setup();
    const key = peerKey('10.0.0.1', 1000);
    const rrq = Buffer.from('\x00\x01a\x00octet\x00', 'latin1');
    const entry = table.add(key, '10.0.0.1', rrq, ticket('10.0.0.1'));
    const { driver, calls } = fakeDriver();
    entry.driver = driver;
    expect(table.arrive(key, Buffer.from(rrq))).toBe('duplicate');
    expect(counters.duplicateRequests).toBe(1);
    expect(calls).toEqual(['repeat']);
    expect(table.get(key)).toBe(entry);
  });

  it('session table: different request bytes from the same address and port supersede the running session silently', () => {
    const { table, admission, ticket } = setup();
    const key = peerKey('10.0.0.1', 1000);
    const entry = table.add(key, '10.0.0.1', Buffer.from('\x00\x01a\x00octet\x00', 'latin1'), ticket('10.0.0.1'));
    const { driver, calls } = fakeDriver();
    entry.driver = driver;
    expect(table.arrive(key, Buffer.from('\x00\x01b\x00octet\x00', 'latin1'))).toBe('new');
    expect(calls).toEqual(['cancel:superseded']);
    expect(entry.superseded).toBe(true);
    expect(entry.released).toBe(true);
    expect(table.has(key)).toBe(false);
    expect(admission.activeSessions).toBe(0);
  });

  it('session table: a released entry lets go of its session (driver and last-block probe), so a stale reference to the entry holds nothing more', () => {
    const { table, ticket } = setup();
    const key = peerKey('10.0.0.1', 1000);
    const entry = table.add(key, '10.0.0.1', Buffer.from('\x00\x01a\x00octet\x00', 'latin1'), ticket('10.0.0.1'));
    const { driver } = fakeDriver();
    entry.driver = driver;
    entry.lastBlockSent = () => true;
    table.release(entry);
    expect(entry.driver).toBeUndefined();
    expect(entry.lastBlockSent()).toBe(false);
    // A request from the same peer afterwards is new, not a duplicate of the released one.
    expect(table.arrive(key, Buffer.from('\x00\x01a\x00octet\x00', 'latin1'))).toBe('new');
  });

  it('session table: release frees the ticket once and leaves a newer entry under the same key alone', () => {
    const { table, admission, ticket } = setup();
    const key = peerKey('10.0.0.1', 1000);
    const old = table.add(key, '10.0.0.1', Buffer.from('a'), ticket('10.0.0.1'));
    table.supersede(old);
    const newer = table.add(key, '10.0.0.1', Buffer.from('b'), ticket('10.0.0.1'));
    table.release(old);
    expect(table.get(key)).toBe(newer);
    expect(admission.activeSessions).toBe(1);
    table.release(newer);
    table.release(newer);
    expect(admission.activeSessions).toBe(0);
    expect(table.size).toBe(0);
  });

  it('session table: a deferred request is retried after one turn of the event loop, and its copies meanwhile are duplicates', async () => {
    const { table, counters } = setup();
    const key = peerKey('10.0.0.2', 2000);
    let retried = 0;
    expect(table.defer(key, () => retried++)).toBe(true);
    expect(table.arrive(key, Buffer.from('x'))).toBe('duplicate');
    expect(counters.duplicateRequests).toBe(1);
    expect(retried).toBe(0);
    await new Promise((r) => setImmediate(r));
    expect(retried).toBe(1);
    expect(table.arrive(key, Buffer.from('x'))).toBe('new');
  });

  it('session table: the same request bytes once the session sent its last block are a new transfer; on its own socket the old session runs on to its end', () => {
    const { table, admission, counters, ticket } = setup();
    const key = peerKey('10.0.0.1', 1000);
    const rrq = Buffer.from('\x00\x01a\x00octet\x00', 'latin1');
    const old = table.add(key, '10.0.0.1', rrq, ticket('10.0.0.1'));
    const { driver, calls } = fakeDriver();
    old.driver = driver;
    old.ownSocket = true;
    let sentLast = false;
    old.lastBlockSent = () => sentLast;
    expect(table.arrive(key, Buffer.from(rrq))).toBe('duplicate');
    sentLast = true;
    expect(table.arrive(key, Buffer.from(rrq))).toBe('new');
    expect(counters.duplicateRequests).toBe(1);
    // Not cancelled: its final ACK reaches it on its own port and its record tells the truth.
    expect(calls).toEqual(['repeat']);
    expect(old.superseded).toBe(false);
    expect(table.has(key)).toBe(false);
    expect(table.size).toBe(1);
    const newer = table.add(key, '10.0.0.1', rrq, ticket('10.0.0.1'));
    expect(table.size).toBe(2);
    expect(admission.activeSessions).toBe(2);
    table.release(old);
    expect(table.get(key)).toBe(newer);
    expect(table.all()).toEqual([newer]);
    expect(admission.activeSessions).toBe(1);
  });

  it('session table: in single-port mode (datagrams routed by the table) the finished-sending session is superseded instead', () => {
    const { table, admission, ticket } = setup();
    const key = peerKey('10.0.0.1', 1000);
    const rrq = Buffer.from('\x00\x01a\x00octet\x00', 'latin1');
    const old = table.add(key, '10.0.0.1', rrq, ticket('10.0.0.1'));
    const { driver, calls } = fakeDriver();
    old.driver = driver;
    old.lastBlockSent = () => true;
    expect(table.arrive(key, Buffer.from(rrq))).toBe('new');
    expect(calls).toEqual(['cancel:superseded']);
    expect(old.released).toBe(true);
    expect(admission.activeSessions).toBe(0);
  });

  it('session table: a busy request waits for a slot and goes on as soon as a session releases its slots', async () => {
    const { table, admission, ticket } = setup({ maxSessionsPerClient: 1 });
    const held = table.add(peerKey('10.0.0.5', 1), '10.0.0.5', Buffer.from('a'), ticket('10.0.0.5'));
    let retried = 0;
    expect(admission.hasSlotFor('10.0.0.5')).toBe(false);
    expect(table.defer(peerKey('10.0.0.5', 2), () => retried++)).toBe(true);
    // One turn of the event loop: still no slot, so it keeps waiting (not refused yet).
    await new Promise((r) => setImmediate(r));
    expect(retried).toBe(0);
    table.releaseSlots(held);
    expect(admission.hasSlotFor('10.0.0.5')).toBe(true);
    await new Promise((r) => setImmediate(r));
    expect(retried).toBe(1);
    // Released once: the entry going later does not free anything twice.
    table.release(held);
    expect(admission.activeSessions).toBe(0);
  });

  it('session table: a busy request that no slot frees for is decided for good after DEFER_MAX_MS', async () => {
    const { table, ticket } = setup({ maxSessionsPerClient: 1 });
    table.add(peerKey('10.0.0.6', 1), '10.0.0.6', Buffer.from('a'), ticket('10.0.0.6'));
    let retriedAtMs = 0;
    const startedMs = performance.now();
    table.defer(peerKey('10.0.0.6', 2), () => (retriedAtMs = performance.now()));
    const deadline = Date.now() + 5_000;
    while (retriedAtMs === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(retriedAtMs - startedMs).toBeGreaterThanOrEqual(DEFER_MAX_MS - 1);
  });

  it('session table: drained resolves when the last entry is released, before the grace period', async () => {
    const { table, ticket } = setup();
    const entry = table.add('k', '10.0.0.3', Buffer.from('a'), ticket('10.0.0.3'));
    const started = performance.now();
    const done = table.drained(10_000);
    table.release(entry);
    await done;
    expect(performance.now() - started).toBeLessThan(5_000);
  });
});
