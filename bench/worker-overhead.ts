/**
 * What one worker-function invocation costs, piece by piece, without TFTP or sockets around it:
 * the numbers behind PERFORMANCE.md's analysis of scenario (g).
 *
 *   node dist/bench/worker-overhead.js [--calls 200000]
 *
 * It mimics the runtime's messages (worker-protocol.ts): an `invoke` carrying a request shaped
 * like toFunctionRequest's, answered by `bytes` with a 1 KiB body whose buffer is transferred.
 * Reported: the structured clone of that request alone, the round trip one call at a time
 * (latency), the round trip with 20 calls in flight (throughput, as in (g)), and the process
 * CPU (both threads) per call.
 */
import { parseArgs } from 'node:util';
import { isMainThread, parentPort, Worker } from 'node:worker_threads';

interface Invoke { t: 'invoke'; id: number; request: unknown }

/** Shaped like toFunctionRequest's output for a bench RRQ. */
function request(id: number) {
  return {
    id: `r${id}`,
    kind: 'read',
    path: 'one-kib.bin',
    rawPath: 'one-kib.bin',
    mode: 'octet',
    options: {},
    peer: { address: '127.0.0.1', port: 40000 + (id % 20000), family: 'IPv4' },
    local: { address: '127.0.0.1', port: 16905, family: 'IPv4' },
    mac: undefined,
  };
}

if (!isMainThread) {
  // The worker side of worker-main.ts for a bytes() response: copy the body (bytes() copies),
  // post it with its buffer transferred.
  const body = new Uint8Array(1024).fill(7);
  parentPort!.on('message', (msg: Invoke) => {
    const copy = new Uint8Array(body);
    parentPort!.postMessage({ t: 'bytes', id: msg.id, body: copy }, [copy.buffer]);
  });
} else {
  const { values } = parseArgs({ options: { calls: { type: 'string', default: '200000' } } });
  const calls = Number(values.calls);
  const usPer = (ms: number, n: number) => ((ms * 1000) / n).toFixed(2);

  // Structured clone alone, as postMessage does to the request on the gateway thread.
  {
    const reqs = Array.from({ length: 1000 }, (_, i) => request(i));
    for (let i = 0; i < 20_000; i++) structuredClone(reqs[i % 1000]);
    const t0 = performance.now();
    for (let i = 0; i < calls; i++) structuredClone(reqs[i % 1000]);
    process.stdout.write(`structuredClone(request): ${usPer(performance.now() - t0, calls)} µs\n`);
  }

  const worker = new Worker(new URL(import.meta.url));
  const pending = new Map<number, () => void>();
  worker.on('message', (m: { id: number; body: Uint8Array }) => {
    pending.get(m.id)!();
    pending.delete(m.id);
  });
  let next = 0;
  const call = () =>
    new Promise<void>((resolve) => {
      const id = next++;
      pending.set(id, resolve);
      worker.postMessage({ t: 'invoke', id, request: request(id) } satisfies Invoke);
    });

  async function run(label: string, inFlight: number, n: number): Promise<void> {
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    let issued = 0;
    const lane = async () => {
      while (issued < n) {
        issued++;
        await call();
      }
    };
    await Promise.all(Array.from({ length: inFlight }, lane));
    const ms = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    process.stdout.write(
      `${label}: ${usPer(ms, n)} µs wall per call (${Math.round((n * 1000) / ms)} calls/s), ` +
        `${usPer((cpu.user + cpu.system) / 1000, n)} µs CPU per call (both threads)\n`,
    );
  }

  await run('warm-up', 20, 20_000);
  await run('round trip, 1 in flight', 1, Math.min(calls, 50_000));
  await run('round trip, 20 in flight', 20, calls);
  await worker.terminate();
}
