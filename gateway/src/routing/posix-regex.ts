/**
 * POSIX extended regular expressions (as tftp-hpa passes them to regcomp(REG_EXTENDED)),
 * translated to JavaScript RegExp source.
 *
 * The two dialects share most syntax: . [ ] ( ) | * + ? {m,n} ^ $ and \N back-references.
 * What differs, and what we do about it:
 *  - Inside brackets a backslash is literal in POSIX ("[\.]" is '\' or '.'); JS treats it
 *    as an escape. We escape it, so the class keeps its POSIX meaning.
 *  - POSIX character classes "[[:alpha:]]" etc. do not exist in JS: expanded to ASCII ranges.
 *    Collating elements "[.x.]" and equivalence classes "[=x=]" are refused.
 *  - "\d", "\n", "\t" ... are not escapes in POSIX (glibc reads them as the letter); JS gives
 *    them meaning. We emit the plain letter. The GNU escapes \w \W \s \S \b \B are kept, and
 *    \< \> (word start and end) become \b.
 *  - "(?" starts JS-only syntax (lookaround, named groups); in POSIX it is an error. Refused,
 *    which also keeps group numbering identical for \1..\9.
 *  - "{,n}" (GNU: at most n) becomes "{0,n}"; a "{" that starts no valid interval is literal.
 *  - '.' matches any character, newline included (the JS 's' flag is set by the caller).
 *  - POSIX picks the leftmost-longest match, JS the leftmost-first alternative: "a|ab" on "ab"
 *    matches "ab" in tftp-hpa and "a" here. Put the longer alternative first.
 */

export class PosixRegexError extends Error {
  constructor(why: string) {
    super(why);
    this.name = 'PosixRegexError';
  }
}

const CLASSES: Record<string, string> = {
  alpha: 'a-zA-Z',
  digit: '0-9',
  alnum: '0-9a-zA-Z',
  upper: 'A-Z',
  lower: 'a-z',
  space: ' \\t\\n\\r\\f\\v',
  blank: ' \\t',
  punct: '!-\\/:-@\\[-`{-~',
  xdigit: '0-9A-Fa-f',
  cntrl: '\\x00-\\x1f\\x7f',
  print: '\\x20-\\x7e',
  graph: '\\x21-\\x7e',
};

const escapeLiteral = (c: string): string => (/[\\^$.*+?()[\]{}|/-]/.test(c) ? `\\${c}` : c);

/** Translates a bracket expression starting at `open`; returns [source, index of closing ']']. */
function bracket(src: string, open: number): [string, number] {
  let i = open + 1;
  let out = '[';
  if (src[i] === '^') {
    out += '^';
    i++;
  }
  // A ']' first in the list is a literal member.
  if (src[i] === ']') {
    out += '\\]';
    i++;
  }
  for (; i < src.length; i++) {
    const c = src[i];
    if (c === ']') return [out + ']', i];
    if (c === '[' && (src[i + 1] === ':' || src[i + 1] === '.' || src[i + 1] === '=')) {
      const kind = src[i + 1];
      const end = src.indexOf(`${kind}]`, i + 2);
      if (end < 0) throw new PosixRegexError(`unterminated "[${kind}" in a bracket expression: close it with "${kind}]"`);
      const name = src.slice(i + 2, end);
      if (kind !== ':') throw new PosixRegexError(`"[${kind}${name}${kind}]" (collating/equivalence class) is not supported: list the characters instead`);
      const range = CLASSES[name];
      if (range === undefined) throw new PosixRegexError(`unknown character class "[:${name}:]": use one of ${Object.keys(CLASSES).join(', ')}`);
      out += range;
      i = end + 1;
    } else if (c === '\\' || c === '[') {
      out += `\\${c}`;
    } else {
      out += c;
    }
  }
  throw new PosixRegexError('unterminated "[": close the bracket expression with "]"');
}

const INTERVAL = /^\{(\d*)(,(\d*))?\}/;

export function posixEreToJs(src: string): string {
  let out = '';
  for (let i = 0; i < src.length; i++) {
    const c = src[i];
    if (c === '\\') {
      const n = src[i + 1];
      i++;
      if (n === undefined) throw new PosixRegexError('trailing "\\": escape something or remove it');
      if (/[1-9]/.test(n)) out += `\\${n}`;
      else if (/[wWsSbB]/.test(n)) out += `\\${n}`;
      else if (n === '<' || n === '>') out += '\\b';
      else if (n === '`') out += '^';
      else if (n === "'") out += '$';
      else out += escapeLiteral(n);
    } else if (c === '[') {
      const [cls, end] = bracket(src, i);
      out += cls;
      i = end;
    } else if (c === '(' && src[i + 1] === '?') {
      throw new PosixRegexError('"(?" is JavaScript-only syntax (lookaround, named groups) and invalid in POSIX: remove it');
    } else if (c === '{') {
      const m = INTERVAL.exec(src.slice(i));
      if (m && (m[1] !== '' || m[3])) {
        out += `{${m[1] || '0'}${m[2] ? `,${m[3] ?? ''}` : ''}}`;
        i += m[0].length - 1;
      } else {
        out += '\\{';
      }
    } else if (c === '}') {
      out += '\\}';
    } else if (c === '/') {
      out += '\\/';
    } else {
      out += c;
    }
  }
  return out;
}

/** Compiles a POSIX ERE; `flags` adds 'i' for the remap 'i' flag. Throws PosixRegexError. */
export function compilePosixEre(src: string, flags = ''): RegExp {
  const js = posixEreToJs(src);
  try {
    return new RegExp(js, `s${flags}`);
  } catch (e) {
    // V8 quotes the translated source ("/.../s: why"); the operator wrote the POSIX one, so keep only the why.
    throw new PosixRegexError((e as Error).message.replace(/^Invalid regular expression: \/.*\/[a-z]*: /s, ''));
  }
}
