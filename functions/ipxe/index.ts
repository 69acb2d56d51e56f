/**
 * A per-machine iPXE script, rendered from an inventory (see ../_shared/inventory.ts): the entry
 * for the MAC in the path (01-aa-bb-cc-dd-ee-ff.ipxe, aa-bb-cc-dd-ee-ff.ipxe,
 * aa:bb:cc:dd:ee:ff/boot.ipxe), else the client's IP address, else the inventory's default;
 * looked up in env.kv (`machine:<mac>`, `machine:<ip>`, `machine:default`) first, then in the
 * JSON inventory.
 * Any other name ending in .ipxe (boot.ipxe) is answered by IP, then default.
 */
import { denied, notFound, text, type Handler } from 'tftpfn/sdk';
import { machineFinder, type BootEntry, type Match } from '../_shared/inventory.js';
import inventory from './inventory.json' with { type: 'json' };

const findMachine = machineFinder(inventory, ipxeProblem);

export const handle: Handler = async (request, env) => {
  if (request.kind === 'write') return denied();
  if (!request.path.endsWith('.ipxe')) return notFound();
  const match = await findMachine(env, request);
  env.log.info({ mac: request.mac, peer: request.peer.address, matchedBy: match?.by, key: match?.key, source: match?.source }, 'ipxe script');
  if (!match) return notFound();
  return text(renderIpxeScript(match));
};

export function renderIpxeScript({ entry, by, key }: Match): string {
  const title = entry.hostname ?? key;
  const lines = [
    '#!ipxe',
    `# tftpfn ipxe: ${title} (matched by ${by === 'default' ? 'default' : `${by} ${key}`})`,
    `echo tftpfn: booting ${title}`,
    ['kernel', entry.kernel, ...entry.cmdline].join(' '),
    ...entry.initrd.map((initrd) => `initrd ${initrd}`),
    'boot',
  ];
  return `${lines.join('\n')}\n`;
}

/**
 * iPXE script has no quoting (src/core/exec.c): a line is split on whitespace, a token starting
 * with '#' comments out the rest, the tokens '||', '&&' and ';' start another command, and
 * '${...}' expands settings in each token; src/core/script.c also joins a line ending in '\' to
 * the next. So a value that cannot stand as one literal token is refused rather than escaped.
 */
export function ipxeTokenProblem(token: string): string | undefined {
  if (/\s/.test(token)) return 'contains whitespace';
  if (token.includes('$')) return 'contains "$" (iPXE expands ${...} settings)';
  if (token.includes('\\')) return 'contains "\\" (iPXE joins a line ending in "\\" to the next)';
  if (token.startsWith('#')) return 'starts with "#" (iPXE reads the rest of the line as a comment)';
  if (token === '||' || token === '&&' || token === ';') return `is "${token}" (iPXE starts another command)`;
  return undefined;
}

function ipxeProblem(entry: BootEntry, where: string): string | undefined {
  const images: [string, string][] = [['kernel', entry.kernel], ...entry.initrd.map((v, i): [string, string] => [`initrd[${i}]`, v])];
  for (const [field, value] of images) {
    const problem = ipxeTokenProblem(value) ?? (value.startsWith('-') ? 'starts with "-" (iPXE would read an option)' : undefined);
    if (problem) return `${where}.${field} ${JSON.stringify(value)} ${problem}`;
  }
  for (const word of entry.cmdline) {
    const problem = ipxeTokenProblem(word);
    if (problem) return `${where}.cmdline word ${JSON.stringify(word)} ${problem}`;
  }
  return undefined;
}
