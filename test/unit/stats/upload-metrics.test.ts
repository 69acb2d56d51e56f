/**
 * The upload counters (objects/upload-registry.ts) on /metrics (issue 15): one series per store
 * kind, counters as counters and the uploads in progress as a gauge; and a finished write
 * session counted beside the reads, by kind.
 */
import { describe, expect, test } from 'vitest';
import { GatewayMetrics } from '../../../gateway/src/stats/metrics.js';
import { newServerCounters } from '../../../gateway/src/stats/counters.js';
import type { ServerStats } from '../../../gateway/src/stats/server-stats.js';
import { parsePromText, samples } from '../../helpers/prom-text.js';
import { sessionRecord } from '../../helpers/session-record.js';

const s3 = { started: 5, committed: 3, aborted: 1, bytesCommitted: 12345, refusedPerClient: 2, swept: 4, abortFailures: 1, active: 1 };
const folder = { started: 2, committed: 1, aborted: 0, bytesCommitted: 7, refusedPerClient: 0, swept: 0, abortFailures: 0, active: 1 };

function stats(uploadsByStore?: ServerStats['uploadsByStore']): ServerStats {
  return { at: new Date(0).toISOString(), counters: newServerCounters(), functions: [], objects: undefined, kv: undefined, statsSink: undefined, ...(uploadsByStore ? { uploadsByStore } : {}) };
}

describe('upload metrics', () => {
  test('metrics: /metrics reports uploads started, by outcome, committed bytes, refusals, failed aborts, swept and active, each with its store label', async () => {
    const m = new GatewayMetrics({ defaultMetrics: false, gateway: 'gw-a', stats: () => stats({ s3, folder }) });
    try {
      const p = parsePromText(await m.metrics());
      const one = (name: string, match: Record<string, string>) => {
        const found = samples(p, name, match);
        expect(found, `${name} ${JSON.stringify(match)}`).toHaveLength(1);
        return found[0]!.value;
      };
      expect(p.get('tftpfn_uploads_total')?.type).toBe('counter');
      expect(p.get('tftpfn_uploads_active')?.type).toBe('gauge');
      expect(one('tftpfn_uploads_started_total', { store: 's3' })).toBe(5);
      expect(one('tftpfn_uploads_total', { store: 's3', outcome: 'committed' })).toBe(3);
      expect(one('tftpfn_uploads_total', { store: 's3', outcome: 'aborted' })).toBe(1);
      expect(one('tftpfn_upload_bytes_total', { store: 's3' })).toBe(12345);
      expect(one('tftpfn_upload_refused_per_client_total', { store: 's3' })).toBe(2);
      expect(one('tftpfn_upload_abort_failures_total', { store: 's3' })).toBe(1);
      expect(one('tftpfn_upload_swept_total', { store: 's3' })).toBe(4);
      expect(one('tftpfn_uploads_active', { store: 's3' })).toBe(1);
      expect(one('tftpfn_uploads_started_total', { store: 'folder' })).toBe(2);
      expect(one('tftpfn_uploads_total', { store: 'folder', outcome: 'committed' })).toBe(1);
      expect(one('tftpfn_upload_bytes_total', { store: 'folder' })).toBe(7);
      expect(one('tftpfn_uploads_active', { store: 'folder' })).toBe(1);
    } finally {
      m.close();
    }
  });

  test('metrics: before any upload store was used there is no upload series at all', async () => {
    const m = new GatewayMetrics({ defaultMetrics: false, gateway: 'gw-a', stats: () => stats() });
    try {
      const p = parsePromText(await m.metrics());
      for (const name of ['tftpfn_uploads_started_total', 'tftpfn_uploads_total', 'tftpfn_upload_bytes_total', 'tftpfn_uploads_active']) expect(samples(p, name), name).toEqual([]);
    } finally {
      m.close();
    }
  });

  test('metrics: a write session counts in sessions, bytes received and the duration histogram with kind="write", apart from reads', async () => {
    const m = new GatewayMetrics({ defaultMetrics: false, gateway: 'gw-a' });
    try {
      m.observeSession(sessionRecord({ kind: 'write', bytes: 1000, outcome: 'ok', durationMs: 20, function: 'up', source: 's3' }));
      m.observeSession(sessionRecord({ kind: 'write', bytes: 0, outcome: 'disk-full', durationMs: 1 }));
      m.observeSession(sessionRecord({ kind: 'read', bytes: 512, outcome: 'ok', durationMs: 3 }));
      const p = parsePromText(await m.metrics());
      expect(samples(p, 'tftpfn_sessions_total', { kind: 'write', outcome: 'ok', function: 'up', source: 's3' })[0]?.value).toBe(1);
      expect(samples(p, 'tftpfn_bytes_received_total')[0]?.value).toBe(1000);
      expect(samples(p, 'tftpfn_bytes_sent_total')[0]?.value).toBe(512);
      expect(samples(p, 'tftpfn_session_duration_seconds_count', { kind: 'write', outcome: 'ok' })[0]?.value).toBe(1);
      expect(samples(p, 'tftpfn_session_duration_seconds_count', { kind: 'write', outcome: 'disk-full' })[0]?.value).toBe(1);
      expect(samples(p, 'tftpfn_session_duration_seconds_count', { kind: 'read', outcome: 'ok' })[0]?.value).toBe(1);
    } finally {
      m.close();
    }
  });
});
