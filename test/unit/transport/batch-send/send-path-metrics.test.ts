/** The send path as Prometheus sees it: which path, and the GSO counters, read at scrape time. */
import { describe, expect, it } from 'vitest';
import { GatewayMetrics } from '../../../../gateway/src/stats/metrics.js';
import { SEND_PATH_STATS } from '../../../../gateway/src/transport/batch-send/send-path-stats.js';
import { WindowSender } from '../../../../gateway/src/transport/batch-send/window-sender.js';

const series = (text: string, name: string) =>
  text
    .split('\n')
    .filter((l) => l.startsWith(name))
    .map((l) => l.replace(/,?gateway="[^"]*"/, '').replace('{,', '{').replace('{}', ''));

describe('send path metrics', () => {
  it('tftpfn_send_path_info names the path in use; the GSO counters are the process-wide totals', async () => {
    await new WindowSender('plain').ready;
    const metrics = new GatewayMetrics({ gateway: 'g1', defaultMetrics: false });
    expect(series(await metrics.registry.metrics(), 'tftpfn_send_path_info')).toEqual(['tftpfn_send_path_info{path="plain"} 1']);
    expect(await new WindowSender('auto').ready).toBe('gso');
    SEND_PATH_STATS.fallbacksByCode.EAGAIN = (SEND_PATH_STATS.fallbacksByCode.EAGAIN ?? 0) + 2;
    const text = await metrics.registry.metrics();
    expect(series(text, 'tftpfn_send_path_info')).toEqual(['tftpfn_send_path_info{path="gso"} 1']);
    expect(series(text, 'tftpfn_gso_segments_total')).toEqual([`tftpfn_gso_segments_total ${SEND_PATH_STATS.gsoSegments}`]);
    expect(series(text, 'tftpfn_gso_sends_total')).toEqual([`tftpfn_gso_sends_total ${SEND_PATH_STATS.gsoSends}`]);
    expect(series(text, 'tftpfn_plain_datagrams_total')).toEqual([`tftpfn_plain_datagrams_total ${SEND_PATH_STATS.plainDatagrams}`]);
    expect(series(text, 'tftpfn_gso_fallbacks_total')).toContain(`tftpfn_gso_fallbacks_total{code="EAGAIN"} ${SEND_PATH_STATS.fallbacksByCode.EAGAIN}`);
  });
});
