/**
 * A Dockerfile as instructions: continuation lines joined, comments and blank lines dropped.
 * Enough to check what infra/Dockerfile says; syntax is checked by dockerfile-utils.
 */
export interface Instruction {
  readonly keyword: string;
  readonly args: string;
  /** Index of the build stage (FROM) the instruction belongs to; -1 before the first FROM. */
  readonly stage: number;
}

export function instructions(text: string): Instruction[] {
  const out: Instruction[] = [];
  let pending = '';
  let stage = -1;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (pending === '' && (line === '' || line.startsWith('#'))) continue;
    if (line.startsWith('#')) continue; // a comment inside a continued instruction
    if (line.endsWith('\\')) {
      pending += line.slice(0, -1) + ' ';
      continue;
    }
    const whole = (pending + line).trim();
    pending = '';
    const [keyword, ...rest] = whole.split(/\s+/);
    const upper = keyword.toUpperCase();
    if (upper === 'FROM') stage++;
    out.push({ keyword: upper, args: rest.join(' '), stage });
  }
  return out;
}

/** ENV KEY=VALUE pairs (the form infra/Dockerfile uses), all stages. */
export function envOf(list: readonly Instruction[], stage: number): Record<string, string> {
  const env: Record<string, string> = {};
  for (const i of list) {
    if (i.keyword !== 'ENV' || i.stage !== stage) continue;
    for (const m of i.args.matchAll(/([A-Z_][A-Z0-9_]*)=("[^"]*"|\S+)/g)) env[m[1]] = m[2].replace(/^"|"$/g, '');
  }
  return env;
}
