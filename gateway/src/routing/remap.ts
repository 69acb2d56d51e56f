/**
 * tftp-hpa remap files (in.tftpd -m FILE), so an operator can bring their rules across.
 *
 * A file is one rule per line: `flags regex [replacement]`, fields split on unescaped
 * whitespace, '#' (unescaped) starting a comment anywhere. Rules run in order on the raw
 * filename from the RRQ/WRQ, before path normalisation (the gateway normalises the result,
 * so a rewrite can never smuggle "../" past protocol/path.ts).
 *
 * Flags, as in tftp-hpa's tftpd/remap.c:
 *   r  rewrite the matched part with the replacement, then go on to the next rule
 *   g  with r: repeat the rewrite from the start until the regex no longer matches;
 *      gg: sed-style, each repeat searches after the previous replacement
 *   i  case-insensitive regex
 *   e  if matched, stop: the current name is the result
 *   s  if matched, start over at the first rule
 *   a  if matched, refuse the request (ERROR 2); a replacement becomes the error text
 *   G / P   the rule applies to reads (RRQ) / writes (WRQ) only
 *   4 / 6   the rule applies to IPv4 / IPv6 clients only
 *   ~  the rule applies when the regex does NOT match
 * Not supported (a parse error, never a silent skip): j and ':label' (jumps), E (needs a file
 * check in the middle of remapping).
 *
 * Replacement: \0 whole match, \1-\9 groups, \i client IP, \x client IP in upper-case hex
 * (8 digits for IPv4, 32 for IPv6), \L \U \E lower/upper/no case change, \\ a backslash; any
 * other "\c" is just c.
 *
 * Every rewrite and every restart is one step; past `maxSteps` the request is refused, so
 * "s" loops end (tftp-hpa has the same kind of dead-man counter).
 */
import { isIPv4, isIPv6 } from 'node:net';
import { compilePosixEre, PosixRegexError } from './posix-regex.js';

export interface RemapRule {
  /** 1-based line in the remap file, for logs. */
  readonly line: number;
  readonly regex: RegExp;
  readonly replacement: string;
  readonly rewrite: boolean;
  /** 'none', 'repeat' (g) or 'sed' (gg). */
  readonly global: 'none' | 'repeat' | 'sed';
  readonly exit: boolean;
  readonly restart: boolean;
  readonly abort: boolean;
  readonly invert: boolean;
  readonly only?: 'read' | 'write';
  readonly family?: 4 | 6;
}

export interface RemapInput {
  /** The raw filename from the request. */
  readonly path: string;
  readonly kind: 'read' | 'write';
  readonly clientAddress: string;
}

export type RemapResult =
  | { readonly path: string }
  | { readonly denied: true; readonly reason: 'abort' | 'loop'; readonly line: number; readonly message?: string };

export const DEFAULT_REMAP_MAX_STEPS = 1000;

export class RemapParseError extends Error {
  readonly line: number;
  constructor(line: number, why: string) {
    super(`remap line ${line}: ${why}`);
    this.name = 'RemapParseError';
    this.line = line;
  }
}

/** Splits a line into fields like tftp-hpa's readescstring: backslashes stay in the field. */
function fields(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let escaped = false;
  for (const c of line) {
    if (!escaped && c === '#') break;
    if (!escaped && /\s/.test(c)) {
      if (cur) out.push(cur);
      cur = '';
      continue;
    }
    // Two backslashes leave us unescaped again, as in tftp-hpa.
    escaped = !escaped && c === '\\';
    cur += c;
  }
  if (cur) out.push(cur);
  return out;
}

const BAD_COMBOS: ReadonlyArray<readonly [string, string]> = [
  ['r', '~'],
  ['r', 'a'],
  ['a', 's'],
  ['a', 'e'],
  ['e', 's'],
];

function parseRule(line: number, text: string): RemapRule | undefined {
  const f = fields(text);
  if (f.length === 0) return undefined;
  const [flags, source, replacement = ''] = f;
  if (f.length > 3) throw new RemapParseError(line, `expected "flags regex [replacement]" but found ${f.length} fields: escape spaces as "\\ "`);
  if (flags.startsWith(':')) throw new RemapParseError(line, 'labels (":name") and jumps ("j") are not supported: restructure the rules with "s" or "e"');
  for (const c of flags) {
    if (c === 'j' || c === 'E') throw new RemapParseError(line, `flag "${c}" is not supported by tftpfn: remove it (see docs/ROUTING.md)`);
    if (!'rgieasGP46~'.includes(c)) throw new RemapParseError(line, `unknown flag "${c}": flags are r g i e s a G P 4 6 ~`);
  }
  for (const [a, b] of BAD_COMBOS) {
    if (flags.includes(a) && flags.includes(b)) throw new RemapParseError(line, `flags "${a}" and "${b}" cannot be combined: split the rule in two`);
  }
  if (flags.includes('G') && flags.includes('P')) throw new RemapParseError(line, 'flags "G" and "P" together match nothing: keep one, or neither for both');
  if (flags.includes('4') && flags.includes('6')) throw new RemapParseError(line, 'flags "4" and "6" together match nothing: keep one, or neither for both');
  if (source === undefined) throw new RemapParseError(line, 'regex missing: a rule is "flags regex [replacement]"');
  let regex: RegExp;
  try {
    regex = compilePosixEre(source, flags.includes('i') ? 'i' : '');
  } catch (e) {
    if (!(e instanceof PosixRegexError)) throw e;
    throw new RemapParseError(line, `bad regex ${JSON.stringify(source)}: ${e.message}`);
  }
  const rewrite = flags.includes('r');
  const g = [...flags].filter((c) => c === 'g').length;
  return {
    line,
    regex,
    replacement,
    rewrite,
    // g without r means nothing, as in tftp-hpa.
    global: !rewrite || g === 0 ? 'none' : g === 1 ? 'repeat' : 'sed',
    exit: flags.includes('e'),
    restart: flags.includes('s'),
    abort: flags.includes('a'),
    invert: flags.includes('~'),
    only: flags.includes('G') ? 'read' : flags.includes('P') ? 'write' : undefined,
    family: flags.includes('4') ? 4 : flags.includes('6') ? 6 : undefined,
  };
}

/** Parses a whole remap file; the first bad line throws a RemapParseError naming it. */
export function parseRemap(text: string): RemapRule[] {
  const rules: RemapRule[] = [];
  text.split(/\r?\n/).forEach((l, idx) => {
    const rule = parseRule(idx + 1, l);
    if (rule) rules.push(Object.freeze(rule));
  });
  return rules;
}

/** IPv4-mapped IPv6 ("::ffff:10.0.0.1", what a dual-stack socket reports) counts as IPv4. */
function clientIp(address: string): { ip: string; family: 4 | 6 | undefined } {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  const ip = mapped ? mapped[1] : address;
  return { ip, family: isIPv4(ip) ? 4 : isIPv6(ip) ? 6 : undefined };
}

/** pxelinux-style hex: C0A80001 for 192.168.0.1; 32 digits for IPv6. */
export function addressToHex(address: string): string {
  const { ip, family } = clientIp(address);
  if (family === 4) return ip.split('.').map((o) => Number(o).toString(16).padStart(2, '0')).join('').toUpperCase();
  if (family !== 6) return '';
  const [head, tail = ''] = ip.split('%')[0].split('::');
  const parts = (s: string) => (s ? s.split(':') : []);
  let h = parts(head);
  let t = parts(tail);
  // An embedded dotted quad at the end counts as two groups.
  const expand = (g: string[]) => g.flatMap((x) => (x.includes('.') ? [addressToHex(x).slice(0, 4), addressToHex(x).slice(4)] : [x]));
  h = expand(h);
  t = expand(t);
  const fill = ip.includes('::') ? Array(8 - h.length - t.length).fill('0') : [];
  return [...h, ...fill, ...t].map((x) => x.padStart(4, '0')).join('').toUpperCase();
}

function expand(replacement: string, m: RegExpExecArray | null, ip: string, hex: string): string {
  let out = '';
  let caseFn = (s: string) => s;
  for (let i = 0; i < replacement.length; i++) {
    const c = replacement[i];
    if (c !== '\\') {
      out += caseFn(c);
      continue;
    }
    const n = replacement[++i];
    if (n === undefined || n === '\\') out += '\\';
    else if (/[0-9]/.test(n)) out += caseFn(m?.[Number(n)] ?? '');
    else if (n === 'i') out += caseFn(ip);
    else if (n === 'x') out += caseFn(hex);
    else if (n === 'L') caseFn = (s) => s.toLowerCase();
    else if (n === 'U') caseFn = (s) => s.toUpperCase();
    else if (n === 'E') caseFn = (s) => s;
    else out += caseFn(n);
  }
  return out;
}

/** Runs the rules on one request's filename: the new name, or a refusal (ERROR 2). */
export function applyRemap(rules: readonly RemapRule[], input: RemapInput, opts: { maxSteps?: number } = {}): RemapResult {
  const maxSteps = opts.maxSteps ?? DEFAULT_REMAP_MAX_STEPS;
  const { ip, family } = clientIp(input.clientAddress);
  const hex = addressToHex(input.clientAddress);
  let current = input.path;
  let steps = 0;
  const loop = (line: number): RemapResult => ({ denied: true, reason: 'loop', line });
  for (let idx = 0; idx < rules.length; idx++) {
    const rule = rules[idx];
    if ((rule.only && rule.only !== input.kind) || (rule.family && rule.family !== family)) continue;
    let m = rule.regex.exec(current);
    if (rule.abort) {
      // An 'a' rule refuses every spelling of a name it refuses: "x.key/", "x.key/." and
      // "x.key\" are served as "x.key" once normalised, so `a \.key$` must catch them too.
      const canon = canonicalSpelling(current);
      if (canon !== current) {
        const mc = rule.regex.exec(canon);
        // Refuse rules: either spelling matching refuses. '~' rules (an allow-list): both must match.
        if (!rule.invert && m === null) m = mc;
        if (rule.invert && mc === null) m = null;
      }
    }
    if ((m !== null) === rule.invert) continue;
    if (rule.rewrite && m) {
      let match: RegExpExecArray | null = m;
      let from = 0;
      while (match) {
        if (++steps > maxSteps) return loop(rule.line);
        const repl = expand(rule.replacement, match, ip, hex);
        current = current.slice(0, match.index) + repl + current.slice(match.index + match[0].length);
        if (rule.global === 'none') break;
        // sed-style continues after the replacement (and past an empty match); plain g restarts.
        from = rule.global === 'sed' ? match.index + repl.length + (match[0] === '' ? 1 : 0) : 0;
        if (from > current.length) break;
        match = execFrom(rule.regex, current, from);
      }
    }
    if (rule.abort) {
      // As in tftp-hpa, an abort rule's replacement (groups and \i allowed) is the error text.
      const message = expand(rule.replacement, rule.invert ? null : m, ip, hex);
      return message ? { denied: true, reason: 'abort', line: rule.line, message } : { denied: true, reason: 'abort', line: rule.line };
    }
    if (rule.exit) return { path: current };
    if (rule.restart) {
      if (++steps > maxSteps) return loop(rule.line);
      idx = -1;
    }
  }
  return { path: current };
}

/**
 * The spelling of `name` that path normalisation (protocol/path.ts) will serve: '\' read as a
 * separator (the DOS rule in docs/ROUTING.md turns it into one), empty and '.' segments
 * dropped, so no trailing '/'; a leading separator is kept as '/', since rules anchor on it.
 */
export function canonicalSpelling(name: string): string {
  const lead = name.startsWith('/') || name.startsWith('\\') ? '/' : '';
  return lead + name.split(/[\\/]/).filter((seg) => seg !== '' && seg !== '.').join('/');
}

/** Like tftp-hpa's REG_NOTBOL search from an offset: '^' never matches after the start. */
function execFrom(regex: RegExp, s: string, from: number): RegExpExecArray | null {
  if (from === 0) return regex.exec(s);
  const sticky = new RegExp(regex.source, `${regex.flags}g`);
  sticky.lastIndex = from;
  return sticky.exec(s);
}
