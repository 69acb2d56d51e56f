/**
 * Session ports are the one thing a blind spoofer does not know (issue 9, section 1): five
 * sessions in a row from one address get distinct ports, and a guess from the previous port
 * succeeds rarely. ERROR 5 replies to strangers are rate-limited, since each is a datagram a
 * spoofer can aim at a victim.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { ack, parse, RawPeer, rrq } from '../helpers/raw-peer.js';
import { seededBytes, testSeed } from '../helpers/seeded.js';

const SEED = testSeed(0x9ef1_0005);
const quiet = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Runs one whole small transfer from `peer` and returns the server's session port. */
async function sessionPort(gw: TestGateway, peer: RawPeer, name: string): Promise<number> {
  await peer.send(rrq(name), gw.port);
  const first = await peer.next(2000);
  expect(parse(first.msg)).toMatchObject({ op: 3, block: 1 });
  await peer.send(ack(1), first.port);
  await gw.waitForRecord((r) => r.peer.port === peer.port && r.outcome === 'ok', 5000);
  gw.records.length = 0;
  return first.port;
}

describe('reflection (e): session ports, default config', () => {
  let gw: TestGateway;

  beforeAll(async () => {
    gw = await startTestGateway({ files: { 's.bin': seededBytes(SEED, 100) } });
  });
  afterAll(async () => {
    await gw?.stop();
  });

  it('reflection: sessions in a row from one address get distinct ports; guessing from the previous port rarely works', async () => {
    const peer = await RawPeer.open();
    const ports: number[] = [];
    try {
      for (let i = 0; i < 40; i++) ports.push(await sessionPort(gw, peer, 's.bin'));
    } finally {
      await peer.close();
    }
    // The observation was five in a row on one port (LIFO reuse).
    for (let i = 0; i + 5 <= ports.length; i += 5) expect(new Set(ports.slice(i, i + 5)).size).toBe(5);
    // A spoofer guessing "the previous port, or one of its 4 neighbours" for the next session.
    let hits = 0;
    for (let i = 1; i < ports.length; i++) if (Math.abs(ports[i] - ports[i - 1]) <= 2) hits++;
    const spread = Math.max(...ports) - Math.min(...ports);
    console.log(`[reflection] (e) 40 sessions from one address: ${new Set(ports).size} distinct ports, spread ${spread}, guesses (previous port +-2) right ${hits}/39`);
    expect(hits).toBeLessThanOrEqual(2);
    expect(new Set(ports).size).toBeGreaterThanOrEqual(38);
  });
});

describe('reflection: ERROR 5 to strangers is rate-limited', () => {
  let gw: TestGateway;
  const rate = 50;

  beforeAll(async () => {
    gw = await startTestGateway({ files: { 's.bin': seededBytes(SEED + 1, 100) }, config: { strangerRepliesPerSecond: rate } });
  });
  afterAll(async () => {
    await gw?.stop();
  });

  it('reflection: 1000 stray ACKs at the listening port get at most burst + rate x elapsed ERROR 5 replies; the rest are counted', async () => {
    const victim = await RawPeer.open();
    try {
      const started = performance.now();
      for (let i = 0; i < 1000; i++) victim.sendNow(ack(i), gw.port);
      await quiet(300);
      const elapsedS = (performance.now() - started) / 1000;
      const replies = victim.received.filter((r) => parse(r.msg).op === 5 && parse(r.msg).code === 5).length;
      const c = gw.gateway.counters;
      console.log(`[reflection] stranger flood: 1000 ACKs in, ${replies} ERROR 5 out in ${elapsedS.toFixed(2)} s (rate ${rate}/s), suppressed ${c.strangerRepliesSuppressed}`);
      expect(replies).toBeGreaterThan(0);
      expect(replies).toBeLessThanOrEqual(rate + Math.ceil(rate * elapsedS) + 1);
      expect(c.strangerPackets).toBe(1000);
      expect(c.strangerRepliesSuppressed).toBe(1000 - replies);
    } finally {
      await victim.close();
    }
  });
});
