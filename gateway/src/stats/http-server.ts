/**
 * The metrics HTTP endpoint: GET /metrics (Prometheus text exposition), /healthz (the
 * process answers) and /readyz (listeners bound, functions loaded).
 *
 * It serves scrapers and kubelets, never TFTP clients, so it is read-only, answers small,
 * and holds no request long: tight header/request timeouts and no keep-alive lingering keep
 * a slow or hostile peer from pinning sockets. Nothing here may throw into the gateway: a
 * failing scrape or readiness check becomes a 500/503, and a socket error is logged.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { GatewayMetrics } from './metrics.js';

export interface Readiness {
  ready: boolean;
  /** Why not ready, one line each: "listeners not bound", "function grub has no version loaded". */
  reasons: string[];
}

export interface MetricsServerOptions {
  host: string;
  /** 0 picks a free port; the real one is returned. */
  port: number;
  metrics: GatewayMetrics;
  ready: () => Readiness;
  logger: Logger;
}

export interface MetricsServer {
  readonly port: number;
  close(): Promise<void>;
}

/** A scrape of a busy gateway takes milliseconds; anything slower is a stuck peer. */
const REQUEST_TIMEOUT_MS = 10_000;
const HEADERS_TIMEOUT_MS = 5_000;
const KEEP_ALIVE_TIMEOUT_MS = 5_000;

const TEXT = 'text/plain; charset=utf-8';

export async function startMetricsServer(opts: MetricsServerOptions): Promise<MetricsServer> {
  const { metrics, ready, logger } = opts;
  const log = logger.child({ component: 'metrics' });

  const send = (req: IncomingMessage, res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}) => {
    if (res.headersSent || res.destroyed) return;
    res.writeHead(status, { 'Content-Type': TEXT, 'Cache-Control': 'no-store', 'Content-Length': String(Buffer.byteLength(body)), ...headers });
    // HEAD: the same headers as GET, no body.
    res.end(req.method === 'HEAD' ? undefined : body);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      send(req, res, 405, 'method not allowed: use GET or HEAD\n', { Allow: 'GET, HEAD' });
      return;
    }
    const path = (req.url ?? '/').split('?', 1)[0];
    switch (path) {
      case '/metrics': {
        let body: string;
        try {
          body = await metrics.metrics();
        } catch (e) {
          log.error({ event: 'metricsScrapeFailed', err: e }, 'metrics scrape failed');
          send(req, res, 500, 'metrics unavailable\n');
          return;
        }
        send(req, res, 200, body, { 'Content-Type': metrics.contentType });
        return;
      }
      case '/healthz':
        // Liveness only: answering at all proves the process and its event loop are alive.
        send(req, res, 200, 'ok\n');
        return;
      case '/readyz': {
        let r: Readiness;
        try {
          r = ready();
        } catch (e) {
          r = { ready: false, reasons: [`readiness check failed: ${e instanceof Error ? e.message : String(e)}`] };
        }
        // Ready may still carry notes (degraded: serving cached versions while the control plane
        // is unreachable): they follow the first line, as the reasons of a 503 do.
        if (r.ready) send(req, res, 200, `ready\n${r.reasons.map((x) => `- ${x}\n`).join('')}`);
        else send(req, res, 503, `not ready\n${(r.reasons.length ? r.reasons : ['not ready']).map((x) => `- ${x}\n`).join('')}`);
        return;
      }
      default:
        send(req, res, 404, 'not found: try /metrics, /healthz or /readyz\n');
    }
  };

  const server = createServer((req, res) => {
    // A request body is never expected; drain it so the socket can be reused or closed.
    req.resume();
    handle(req, res).catch((e) => {
      log.error({ event: 'metricsRequestFailed', err: e }, 'metrics request failed');
      send(req, res, 500, 'internal error\n');
    });
  });
  server.requestTimeout = REQUEST_TIMEOUT_MS;
  server.headersTimeout = HEADERS_TIMEOUT_MS;
  server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
  server.maxHeadersCount = 50;
  server.on('clientError', (err, socket) => {
    // Malformed HTTP or a timeout: answer 400 if the socket still can, never crash.
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
    else socket.destroy();
    log.debug({ event: 'metricsClientError', err }, 'bad metrics request');
  });

  await new Promise<void>((resolve, reject) => {
    const onError = (e: Error) => reject(e);
    server.once('error', onError);
    server.listen(opts.port, opts.host, () => {
      server.off('error', onError);
      resolve();
    });
  });
  server.on('error', (e) => log.error({ event: 'metricsServerError', err: e }, 'metrics server error'));
  // The metrics port must never keep a stopping gateway alive.
  server.unref();
  const port = (server.address() as AddressInfo).port;
  log.info({ event: 'metricsListening', host: opts.host, port }, 'metrics endpoint listening');

  let closing: Promise<void> | undefined;
  return {
    port,
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Idle keep-alive sockets (a scraper's) would hold close() open until they time out.
        server.closeIdleConnections();
        server.closeAllConnections();
      });
      return closing;
    },
  };
}
