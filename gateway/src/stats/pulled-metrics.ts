/**
 * The two kinds of pulled metric: a Counter or a Gauge whose values are read when it is
 * scraped (its `collect()` callback), not pushed when something happens. Every pulled metric
 * of the gateway is one of these two (server-metrics.ts, process-metrics.ts), so the
 * read-reset-set body is written once.
 *
 * `read` gives the label sets and absolute values, or undefined when the part it reads is
 * absent (no snapshot, no object store): the metric then keeps what it had. Each scrape
 * replaces the values (reset first), so a label set gone from the source (a function removed
 * from the config) does not linger with its last value. prom-client has no `Counter.set`, so a
 * counter is reset and incremented by the absolute value; the exposed value is exactly the
 * gateway's (metrics.ts: why pulled totals are Counters, not Gauges).
 */
import { Counter, Gauge, type Registry } from 'prom-client';

export const METRIC_PREFIX = 'tftpfn_';

/** Empty label values are how Prometheus spells "absent" (a folder has no function). */
export const label = (v: string | undefined): string => v ?? '';

/** One series: its labels (empty for an unlabelled metric) and its value. */
export type Sample = readonly [Record<string, string>, number];

/** What a pulled metric reads at scrape time; undefined keeps the last values. */
export type ReadSamples = () => Iterable<Sample> | undefined;

/** The one sample of an unlabelled metric. */
export const single = (value: number): Sample[] => [[{}, value]];

/** Declares pulled metrics on one registry, named with METRIC_PREFIX. */
export class PulledMetrics {
  constructor(private readonly registry: Registry) {}

  counter(metric: string, help: string, labelNames: string[], read: ReadSamples): Counter {
    return new Counter({
      ...this.config(metric, help, labelNames),
      collect() {
        replaceSeries(this, read, (labels, value) => this.inc(labels, value));
      },
    });
  }

  gauge(metric: string, help: string, labelNames: string[], read: ReadSamples): Gauge {
    return new Gauge({
      ...this.config(metric, help, labelNames),
      collect() {
        replaceSeries(this, read, (labels, value) => this.set(labels, value));
      },
    });
  }

  private config(metric: string, help: string, labelNames: string[]) {
    return { name: METRIC_PREFIX + metric, help, labelNames, registers: [this.registry] };
  }
}

/** The collect() of both kinds: read, then replace every series (`put` is inc or set). */
function replaceSeries(metric: { reset(): void }, read: ReadSamples, put: (labels: Record<string, string>, value: number) => void): void {
  const list = read();
  if (!list) return;
  metric.reset();
  for (const [labels, value] of list) put(labels, value);
}
