#!/usr/bin/env node
// Prints the session records of one boot (the gateway's `event: "session"` JSON log lines) as a
// table, in the order the sessions ended: what each firmware and boot loader asked, what it got.
// Used by scripts/demo-netboot.sh; works on any gateway log:
//   node scripts/demo-netboot-records.mjs GATEWAY_LOG [GATEWAY_CONFIG]
// With the config, the source column names the route that served each file (a bucket, a
// function or a folder) rather than only where the bytes came from.
import { readFileSync } from 'node:fs';

const [file, configFile] = process.argv.slice(2);
if (!file) {
  console.error('usage: demo-netboot-records.mjs GATEWAY_LOG [GATEWAY_CONFIG] (JSON lines, as tftpfn serve writes them)');
  process.exit(2);
}
const routes = configFile ? (JSON.parse(readFileSync(configFile, 'utf8')).routes ?? []) : [];

const records = [];
for (const line of readFileSync(file, 'utf8').split('\n')) {
  if (!line.startsWith('{')) continue;
  let entry;
  try {
    entry = JSON.parse(line);
  } catch {
    continue; // a line cut short by the gateway's exit
  }
  if (entry.event === 'session') records.push(entry);
}
if (records.length === 0) {
  console.log('(no session records: the firmware never reached the gateway; see the log above)');
  process.exit(1);
}

// What the client asked for, in its own order: "tsize blksize=1468 windowsize=4".
const asked = (o) => Object.entries(o ?? {}).map(([k, v]) => (k === 'tsize' ? k : `${k}=${v}`)).join(' ') || '-';
function source(r) {
  const route = routes[Number(r.route)];
  const where = r.function ? `function ${r.function}` : route?.bucket ? `bucket ${route.bucket}` : r.source ?? '-';
  return where + (r.cacheHit ? ' (cached)' : '');
}

const rows = records.map((r, i) => [
  String(i + 1),
  r.file,
  r.outcome,
  String(r.bytes),
  `${r.blockSize}/${r.windowSize}`,
  asked(r.optionsRequested),
  String(Math.round(r.durationMs)),
  source(r),
]);
const head = ['#', 'file', 'outcome', 'bytes', 'blksize/win', 'asked', 'ms', 'source'];
const right = new Set([0, 3, 6]);
const widths = head.map((h, c) => Math.max(h.length, ...rows.map((row) => row[c].length)));
const fmt = (row) => row.map((cell, c) => (right.has(c) ? cell.padStart(widths[c]) : cell.padEnd(widths[c]))).join('  ').trimEnd();
console.log(fmt(head));
console.log(fmt(widths.map((w) => '-'.repeat(w))));
for (const row of rows) console.log(fmt(row));

const count = (outcome) => records.filter((r) => r.outcome === outcome).length;
const okBytes = records.filter((r) => r.outcome === 'ok').reduce((sum, r) => sum + r.bytes, 0);
console.log(
  `\n${records.length} sessions: ${count('ok')} ok (${okBytes} bytes), ${count('option-probe')} option-probe, ` +
    `${count('not-found')} not-found, ${records.length - count('ok') - count('option-probe') - count('not-found')} other`,
);
console.log('option-probe: the client read our OACK and answered ERROR 8 to try again with other options (edk2 drops tsize); normal traffic.');
console.log('not-found: a name the boot loader probes that need not exist (GRUB\'s *.lst modules lists, config names); normal traffic.');
