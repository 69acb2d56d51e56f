/**
 * The pulled metrics that belong to the process, not to one gateway's counters: how DATA
 * windows leave the sockets (the kernel's UDP_SEGMENT, the koffi binary, the NIC: read from
 * transport/batch-send/send-path-stats.ts), how the process shares its listening port, and
 * the event-loop delay. None of them reads the ServerStats snapshot (server-metrics.ts does).
 */
import cluster from 'node:cluster';
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import { SEND_PATH_STATS } from '../transport/batch-send/send-path-stats.js';
import { listenSharing, type ListenSharing } from '../transport/bind.js';
import { single, type PulledMetrics } from './pulled-metrics.js';

/**
 * How this process shares its listening port, as transport/listener.ts decides it: only
 * `serve --processes N` with N > 1 forks cluster workers (cli/serve.ts), so a worker shares by
 * listenSharing(N) ('reusePort' where dgram has SO_REUSEPORT, else 'clusterShared'), and any
 * other process is alone on its port ('single').
 */
export function processListenSharing(): ListenSharing {
  return listenSharing(cluster.isWorker ? 2 : 1);
}

/** The send path in use, the listening mode, and the send path's counters. */
export function declareSendPathMetrics(pull: PulledMetrics, sharing: ListenSharing): void {
  pull.gauge(
    'send_path_info',
    "How DATA windows leave the sockets now: path=\"gso\" (runs of equal blocks as one UDP GSO sendmsg) or \"plain\" (one datagram per send; config sendPath, or GSO unusable here); 1 for the path in use.",
    ['path'],
    () => [[{ path: SEND_PATH_STATS.path }, 1]],
  );
  // Fixed for the process's life: `serve --processes` (transport/bind.ts listenSharing).
  pull.gauge(
    'listen_info',
    'How this process shares the TFTP listening port with its siblings (serve --processes): sharing="reusePort" (its own socket, SO_REUSEPORT: the kernel sends each client to one process), "clusterShared" (the cluster primary\'s socket, read by every process: Node 20) or "single" (one process); 1 for the mode in use.',
    ['sharing'],
    () => [[{ sharing }, 1]],
  );
  const sendPathCounter = (metric: string, help: string, read: () => number) => pull.counter(metric, help, [], () => single(read()));
  sendPathCounter('gso_sends_total', 'UDP GSO sendmsg calls that succeeded (each carries a run of equal-size DATA blocks).', () => SEND_PATH_STATS.gsoSends);
  sendPathCounter('gso_segments_total', 'Datagrams carried by successful UDP GSO sends.', () => SEND_PATH_STATS.gsoSegments);
  sendPathCounter('plain_datagrams_total', 'Datagrams of session windows sent one per send through dgram (single and short last blocks, the plain path, fallbacks).', () => SEND_PATH_STATS.plainDatagrams);
  pull.counter(
    'gso_fallbacks_total',
    'UDP GSO sends that failed and went out through dgram instead, by errno (EAGAIN: socket full, that window only; EIO: no offload, GSO off for the process; others: off for that socket).',
    ['code'],
    () => Object.entries(SEND_PATH_STATS.fallbacksByCode).map(([code, n]) => [{ code }, n]),
  );
}

/**
 * prom-client 15 names its lag gauge `nodejs_eventloop_lag_seconds` (with the prefix:
 * tftpfn_nodejs_eventloop_lag_seconds), a one-shot setImmediate probe. This one is the p99 of
 * the delay histogram since start: what the UDP path actually suffered, not one sample at
 * scrape time. Returns the monitor, enabled; disable it when the metrics close.
 */
export function declareEventLoopLag(pull: PulledMetrics): IntervalHistogram {
  const delay = monitorEventLoopDelay({ resolution: 10 });
  delay.enable();
  pull.gauge('event_loop_lag_seconds', 'Event-loop delay, 99th percentile since the gateway started (perf_hooks.monitorEventLoopDelay).', [], () => {
    // The histogram is in nanoseconds; it is empty (NaN) until the first sample.
    const p99 = delay.percentile(99);
    return single(Number.isFinite(p99) ? p99 / 1e9 : 0);
  });
  return delay;
}
