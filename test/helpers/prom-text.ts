/**
 * A strict parser for the Prometheus text exposition format 0.0.4
 * (https://prometheus.io/docs/instrumenting/exposition_formats/), written for the tests so
 * that "/metrics parses" means something: anything a real scraper would reject, or that
 * breaks the format's rules, throws a PromParseError naming the line.
 *
 * Checked: line endings (every line ends in \n), HELP/TYPE syntax and at most one of each per
 * family, TYPE before the family's first sample, metric and label name syntax, label value
 * escapes (only \\ \" \n), duplicate label names, float values (incl. +Inf, -Inf, NaN),
 * optional integer timestamps, each family's samples in one group, no duplicate series,
 * counters non-negative, and histograms: every series has _sum, _count and an le="+Inf"
 * bucket, buckets are cumulative in le order, and the +Inf bucket equals _count.
 */

export type MetricType = 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
  timestampMs?: number;
}

export interface MetricFamily {
  name: string;
  help: string | undefined;
  type: MetricType;
  samples: Sample[];
}

export class PromParseError extends Error {
  constructor(
    readonly lineNumber: number,
    message: string,
  ) {
    super(`line ${lineNumber}: ${message}`);
    this.name = 'PromParseError';
  }
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const FLOAT = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
const TYPES = new Set<MetricType>(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

/**
 * Go's strconv.ParseFloat, which Prometheus's parser uses, for the forms exporters write. Go
 * reads nan/inf/infinity in any case, and prom-client does write "Nan" (an empty lag
 * histogram's mean), so the special values are case-insensitive here too.
 */
export function parseFloatStrict(s: string): number | undefined {
  const lower = s.toLowerCase();
  if (lower === 'nan') return NaN;
  if (/^\+?inf(inity)?$/.test(lower)) return Infinity;
  if (/^-inf(inity)?$/.test(lower)) return -Infinity;
  return FLOAT.test(s) ? Number(s) : undefined;
}

/** Parses and validates a whole exposition; families keyed by name, in order of appearance. */
export function parsePromText(text: string): Map<string, MetricFamily> {
  if (text.length > 0 && !text.endsWith('\n')) throw new PromParseError(text.split('\n').length, 'the last line does not end with \\n');
  const lines = text.split('\n');
  lines.pop(); // the empty string after the final \n
  const families = new Map<string, MetricFamily>();
  const seriesSeen = new Set<string>();
  const typed = new Set<string>();
  /** Families whose sample group has ended: seeing them again breaks the grouping rule. */
  const closed = new Set<string>();
  let current: MetricFamily | undefined;

  const family = (name: string): MetricFamily => {
    let f = families.get(name);
    if (!f) families.set(name, (f = { name, help: undefined, type: 'untyped', samples: [] }));
    return f;
  };
  const enter = (f: MetricFamily, n: number) => {
    if (current === f) return;
    if (closed.has(f.name)) throw new PromParseError(n, `lines of metric ${f.name} are not in one group`);
    if (current) closed.add(current.name);
    current = f;
  };

  lines.forEach((raw, i) => {
    const n = i + 1;
    if (raw.includes('\r')) throw new PromParseError(n, 'carriage return in line (lines end with \\n only)');
    const line = raw.replace(/^[ \t]+/, '');
    if (line === '') return;
    if (line.startsWith('#')) {
      const m = /^#[ \t]+(HELP|TYPE)[ \t]+(\S+)(?:[ \t]+(.*))?$/.exec(line);
      if (!m) return; // an ordinary comment
      const [, keyword, name, rest = ''] = m;
      if (!METRIC_NAME.test(name)) throw new PromParseError(n, `invalid metric name ${JSON.stringify(name)}`);
      const f = family(name);
      enter(f, n);
      if (keyword === 'HELP') {
        if (f.help !== undefined) throw new PromParseError(n, `second HELP for ${name}`);
        f.help = unescapeHelp(rest, n);
      } else {
        const type = rest.trim() as MetricType;
        if (!TYPES.has(type)) throw new PromParseError(n, `unknown type ${JSON.stringify(rest)} for ${name}`);
        if (f.samples.length > 0) throw new PromParseError(n, `TYPE for ${name} after its samples`);
        if (typed.has(name)) throw new PromParseError(n, `second TYPE for ${name}`);
        typed.add(name);
        f.type = type;
      }
      return;
    }
    const sample = parseSampleLine(line, n);
    const f = familyOf(sample.name, families) ?? family(sample.name);
    enter(f, n);
    checkSample(f, sample, n);
    const key = `${sample.name}${JSON.stringify(Object.entries(sample.labels).sort(([a], [b]) => (a < b ? -1 : 1)))}`;
    if (seriesSeen.has(key)) throw new PromParseError(n, `duplicate series ${sample.name}${JSON.stringify(sample.labels)}`);
    seriesSeen.add(key);
    f.samples.push(sample);
  });
  for (const f of families.values()) if (f.type === 'histogram') checkHistogram(f);
  return families;
}

/** The family a sample belongs to: its own name, or a histogram/summary it is a part of. */
function familyOf(name: string, families: Map<string, MetricFamily>): MetricFamily | undefined {
  const own = families.get(name);
  if (own && own.type !== 'histogram' && own.type !== 'summary') return own;
  for (const suffix of ['_bucket', '_sum', '_count']) {
    if (!name.endsWith(suffix)) continue;
    const base = families.get(name.slice(0, -suffix.length));
    if (!base) continue;
    if (base.type === 'histogram') return base;
    if (base.type === 'summary' && suffix !== '_bucket') return base;
  }
  return own;
}

function checkSample(f: MetricFamily, s: Sample, n: number): void {
  if (f.type === 'counter' && (s.value < 0 || Number.isNaN(s.value))) throw new PromParseError(n, `counter ${s.name} is ${s.value}`);
  if (f.type === 'histogram') {
    if (s.name === f.name) throw new PromParseError(n, `histogram ${f.name} has a bare sample (use _bucket, _sum, _count)`);
    if (s.name.endsWith('_bucket')) {
      if (s.labels.le === undefined) throw new PromParseError(n, `${s.name} without an le label`);
      if (parseFloatStrict(s.labels.le) === undefined || Number.isNaN(parseFloatStrict(s.labels.le))) throw new PromParseError(n, `${s.name} has le=${JSON.stringify(s.labels.le)}`);
    } else if (s.labels.le !== undefined) throw new PromParseError(n, `${s.name} must not carry an le label`);
    if ((s.name.endsWith('_bucket') || s.name.endsWith('_count')) && (s.value < 0 || Number.isNaN(s.value))) throw new PromParseError(n, `${s.name} is ${s.value}`);
  }
  if (f.type === 'summary' && s.name === f.name && s.labels.quantile === undefined) throw new PromParseError(n, `summary ${f.name} sample without a quantile label`);
}

function checkHistogram(f: MetricFamily): void {
  const series = new Map<string, { buckets: { le: number; value: number }[]; sum?: number; count?: number }>();
  const keyOf = (labels: Record<string, string>) =>
    JSON.stringify(
      Object.entries(labels)
        .filter(([k]) => k !== 'le')
        .sort(([a], [b]) => (a < b ? -1 : 1)),
    );
  for (const s of f.samples) {
    const key = keyOf(s.labels);
    let e = series.get(key);
    if (!e) series.set(key, (e = { buckets: [] }));
    if (s.name === `${f.name}_bucket`) e.buckets.push({ le: parseFloatStrict(s.labels.le)!, value: s.value });
    else if (s.name === `${f.name}_sum`) e.sum = s.value;
    else if (s.name === `${f.name}_count`) e.count = s.value;
  }
  for (const [key, e] of series) {
    const where = `histogram ${f.name}${key}`;
    if (e.sum === undefined) throw new PromParseError(0, `${where} has no _sum`);
    if (e.count === undefined) throw new PromParseError(0, `${where} has no _count`);
    const sorted = [...e.buckets].sort((a, b) => a.le - b.le);
    const inf = sorted.at(-1);
    if (!inf || inf.le !== Infinity) throw new PromParseError(0, `${where} has no le="+Inf" bucket`);
    for (let i = 1; i < sorted.length; i++) {
      if (sorted[i].value < sorted[i - 1].value) throw new PromParseError(0, `${where}: bucket le=${sorted[i].le} (${sorted[i].value}) below le=${sorted[i - 1].le} (${sorted[i - 1].value}); buckets must be cumulative`);
    }
    if (inf.value !== e.count) throw new PromParseError(0, `${where}: le="+Inf" bucket ${inf.value} differs from _count ${e.count}`);
  }
}

function unescapeHelp(s: string, n: number): string {
  return s.replace(/\\(.)?/g, (_, c: string | undefined) => {
    if (c === '\\') return '\\';
    if (c === 'n') return '\n';
    throw new PromParseError(n, `invalid escape \\${c ?? ''} in HELP`);
  });
}

/** name{label="value",...} value [timestamp] */
function parseSampleLine(line: string, n: number): Sample {
  let i = 0;
  const nameMatch = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line);
  if (!nameMatch) throw new PromParseError(n, `invalid metric name at ${JSON.stringify(line.slice(0, 40))}`);
  const name = nameMatch[0];
  i = name.length;
  const labels: Record<string, string> = {};
  if (line[i] === '{') {
    i++;
    for (;;) {
      i = skipSpaces(line, i);
      if (line[i] === '}') {
        i++;
        break;
      }
      const ln = /^[a-zA-Z_][a-zA-Z0-9_]*/.exec(line.slice(i));
      if (!ln) throw new PromParseError(n, `invalid label name in ${name}`);
      const labelName = ln[0];
      if (!LABEL_NAME.test(labelName)) throw new PromParseError(n, `invalid label name ${labelName}`);
      i = skipSpaces(line, i + labelName.length);
      if (line[i] !== '=') throw new PromParseError(n, `expected = after label ${labelName}`);
      i = skipSpaces(line, i + 1);
      if (line[i] !== '"') throw new PromParseError(n, `label ${labelName}: value must be in double quotes`);
      i++;
      let value = '';
      for (;;) {
        if (i >= line.length) throw new PromParseError(n, `label ${labelName}: unterminated value`);
        const c = line[i];
        if (c === '"') {
          i++;
          break;
        }
        if (c === '\\') {
          const e = line[i + 1];
          if (e === '\\') value += '\\';
          else if (e === '"') value += '"';
          else if (e === 'n') value += '\n';
          else throw new PromParseError(n, `label ${labelName}: invalid escape \\${e ?? ''}`);
          i += 2;
          continue;
        }
        value += c;
        i++;
      }
      if (Object.hasOwn(labels, labelName)) throw new PromParseError(n, `label ${labelName} given twice`);
      labels[labelName] = value;
      i = skipSpaces(line, i);
      if (line[i] === ',') {
        i++;
        continue;
      }
      if (line[i] === '}') {
        i++;
        break;
      }
      throw new PromParseError(n, `expected , or } after label ${labelName}`);
    }
  }
  if (line[i] !== ' ' && line[i] !== '\t') throw new PromParseError(n, `expected whitespace before the value of ${name}`);
  const rest = line.slice(i).trim().split(/[ \t]+/);
  if (rest.length < 1 || rest.length > 2 || rest[0] === '') throw new PromParseError(n, `expected "value [timestamp]" after ${name}, got ${JSON.stringify(line.slice(i).trim())}`);
  const value = parseFloatStrict(rest[0]);
  if (value === undefined) throw new PromParseError(n, `invalid value ${JSON.stringify(rest[0])} for ${name}`);
  const sample: Sample = { name, labels, value };
  if (rest.length === 2) {
    if (!/^-?\d+$/.test(rest[1])) throw new PromParseError(n, `invalid timestamp ${JSON.stringify(rest[1])} for ${name}`);
    sample.timestampMs = Number(rest[1]);
  }
  return sample;
}

function skipSpaces(s: string, i: number): number {
  while (s[i] === ' ' || s[i] === '\t') i++;
  return i;
}

/** Samples named `name` whose labels include every pair in `match`. */
export function samples(families: Map<string, MetricFamily>, name: string, match: Record<string, string> = {}): Sample[] {
  const out: Sample[] = [];
  for (const f of families.values()) {
    for (const s of f.samples) {
      if (s.name === name && Object.entries(match).every(([k, v]) => s.labels[k] === v)) out.push(s);
    }
  }
  return out;
}

/** The sum of the samples `samples()` selects (0 when none). */
export function sumOf(families: Map<string, MetricFamily>, name: string, match: Record<string, string> = {}): number {
  return samples(families, name, match).reduce((a, s) => a + s.value, 0);
}
