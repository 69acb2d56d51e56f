/**
 * The UDP ceiling on loopback: iperf3 -u with unlimited bandwidth at a given datagram size.
 * Reports what the receiver got, since loss at the socket buffer is what TFTP would also feel.
 */
import { ManagedProcess } from './child-process.js';

export interface IperfResult {
  datagramBytes: number;
  sentMiBps: number;
  receivedMiBps: number;
  lostPercent: number;
  command: string;
}

export async function runIperf(port: number, datagramBytes: number, seconds: number): Promise<IperfResult> {
  const server = new ManagedProcess('iperf3 -s', 'iperf3', ['-s', '-B', '127.0.0.1', '-p', String(port), '-1']);
  try {
    await new Promise((r) => setTimeout(r, 300));
    const args = ['-c', '127.0.0.1', '-p', String(port), '-u', '-b', '0', '-l', String(datagramBytes), '-t', String(seconds), '--json'];
    const client = new ManagedProcess('iperf3 -c', 'iperf3', args);
    await client.wait((seconds + 15) * 1000);
    const report = JSON.parse(client.stdout) as { end: { sum: { bits_per_second: number; lost_percent: number } }; error?: string };
    if (report.error) throw new Error(`iperf3: ${report.error}`);
    const sum = report.end.sum;
    const sentMiBps = sum.bits_per_second / 8 / (1 << 20);
    return {
      datagramBytes,
      sentMiBps,
      receivedMiBps: sentMiBps * (1 - sum.lost_percent / 100),
      lostPercent: sum.lost_percent,
      command: ['iperf3', ...args].join(' '),
    };
  } finally {
    await server.stop(1000);
  }
}
