/**
 * Path globs for routes, compiled once at config load into a matcher.
 *
 * Globs match the normalised request path (relative, '/'-separated, no leading slash; see
 * protocol/path.ts), so a pattern never needs to care about "/pxelinux.0" vs "pxelinux.0".
 *
 *   *        any run of characters within one segment (never '/')
 *   ?        one character other than '/'
 *   [abc]    one character from the set; ranges a-z; [!a-z] or [^a-z] negates. Never '/'.
 *   **       as a whole segment: any number of segments. "**∕x" and "a/**∕b" take zero or
 *            more; a trailing "a/**" takes one or more, so it never matches "a" itself and a
 *            stripped prefix never leaves an empty path.
 *   \c       the character c, literally
 *   anything else is literal.
 *
 * The pattern is translated into a RegExp in which every literal character is escaped, so a
 * pattern cannot inject regex syntax: "a.b" matches only "a.b", "(x)" only "(x)".
 */

export interface Glob {
  readonly pattern: string;
  /** The leading whole segments that hold no wildcard, e.g. "boot/efi" for "boot/efi/*.efi". */
  readonly staticPrefix: string;
  /** True when the pattern has no wildcard at all. */
  readonly isLiteral: boolean;
  matches(path: string): boolean;
}

export class GlobError extends Error {
  constructor(pattern: string, why: string) {
    super(`glob ${JSON.stringify(pattern)}: ${why}`);
    this.name = 'GlobError';
  }
}

const escapeRegex = (c: string): string => c.replace(/[\\^$.*+?()[\]{}|/-]/g, '\\$&');

/** Translates one segment (no '/', not "**") into regex source. */
function segmentSource(pattern: string, seg: string): string {
  let out = '';
  for (let i = 0; i < seg.length; i++) {
    const c = seg[i];
    if (c === '*') {
      if (seg[i + 1] === '*') throw new GlobError(pattern, '"**" must be a whole segment, e.g. "boot/**" or "**/grub.cfg"; use "*" within a segment');
      out += '[^/]*';
    } else if (c === '?') {
      out += '[^/]';
    } else if (c === '\\') {
      if (i + 1 >= seg.length) throw new GlobError(pattern, 'a trailing "\\" escapes nothing: remove it');
      out += escapeRegex(seg[++i]);
    } else if (c === '[') {
      const end = classEnd(seg, i);
      if (end < 0) throw new GlobError(pattern, 'unterminated "[": close the class with "]" or write "\\[" for a literal bracket');
      out += classSource(pattern, seg.slice(i + 1, end));
      i = end;
    } else {
      out += escapeRegex(c);
    }
  }
  return out;
}

/** Index of the ']' closing the class opened at `open`; a ']' first in the class is literal. */
function classEnd(seg: string, open: number): number {
  let i = open + 1;
  if (seg[i] === '!' || seg[i] === '^') i++;
  if (seg[i] === ']') i++;
  for (; i < seg.length; i++) {
    if (seg[i] === '\\') i++;
    else if (seg[i] === ']') return i;
  }
  return -1;
}

function classSource(pattern: string, body: string): string {
  let negate = false;
  let i = 0;
  if (body[0] === '!' || body[0] === '^') {
    negate = true;
    i = 1;
  }
  // Collect plain characters, then emit each escaped: no class syntax from the pattern survives.
  const items: string[] = [];
  const chars: string[] = [];
  for (; i < body.length; i++) chars.push(body[i] === '\\' ? body[++i] : body[i]);
  if (chars.length === 0) throw new GlobError(pattern, 'empty character class "[]": list at least one character');
  for (let k = 0; k < chars.length; k++) {
    if (chars[k + 1] === '-' && k + 2 < chars.length) {
      const lo = chars[k];
      const hi = chars[k + 2];
      if (lo > hi) throw new GlobError(pattern, `range "${lo}-${hi}" is backwards: write "${hi}-${lo}"`);
      items.push(`${escapeRegex(lo)}-${escapeRegex(hi)}`);
      k += 2;
    } else {
      items.push(escapeRegex(chars[k]));
    }
  }
  // A class never matches '/': it stands for one character within a segment, like '?'.
  return negate ? `(?!/)[^${items.join('')}]` : `(?!/)[${items.join('')}]`;
}

export function compileGlob(pattern: string): Glob {
  if (pattern.length === 0) throw new GlobError(pattern, 'empty pattern: use "**" to match every path');
  if (pattern.startsWith('/')) throw new GlobError(pattern, 'patterns match the normalised path, which has no leading "/": remove it');
  const segments = pattern.split('/');
  if (segments.some((s) => s === '' || s === '.' || s === '..')) {
    throw new GlobError(pattern, 'empty, "." or ".." segments never occur in a normalised path: remove them');
  }
  let source = '';
  let isLiteral = true;
  const prefix: string[] = [];
  let inPrefix = true;
  segments.forEach((seg, idx) => {
    const last = idx === segments.length - 1;
    const sep = idx === 0 ? '' : '/';
    if (seg === '**') {
      isLiteral = false;
      inPrefix = false;
      if (segments.length === 1) source += '.+';
      else if (last) source += '/.+';
      // Zero or more whole segments, each followed by '/': "a/**/b" matches "a/b" and "a/x/y/b".
      else source += idx === 0 ? '(?:[^/]+/)*' : '/(?:[^/]+/)*';
      return;
    }
    const seg_src = segmentSource(pattern, seg);
    const wild = /[*?[]/.test(seg.replace(/\\./g, ''));
    if (wild) {
      isLiteral = false;
      inPrefix = false;
    } else if (inPrefix && !last) {
      prefix.push(seg.replace(/\\(.)/g, '$1'));
    }
    // After a "**/" the separator is already consumed.
    source += segments[idx - 1] === '**' ? seg_src : sep + seg_src;
  });
  const re = new RegExp(`^${source}$`);
  return {
    pattern,
    staticPrefix: prefix.join('/'),
    isLiteral,
    matches: (path: string) => re.test(path),
  };
}
