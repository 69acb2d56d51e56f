/**
 * A per-machine grub.cfg, rendered from an inventory (see ../_shared/inventory.ts): the entry
 * for the client's MAC, else its IP address, else the inventory's default; looked up in env.kv
 * (`machine:<mac>`, `machine:<ip>`, `machine:default`) first, then in the JSON inventory.
 *
 * GRUB's net boot looks for, in order, grub.cfg-01-<mac>, grub.cfg-<IP in hex> (shortened one
 * digit at a time) and grub.cfg, and takes the first that exists. Every one of those names gets
 * the same answer here, so a machine known only by IP gets its entry at the first probe.
 * `configfile grub.cfg-${net_default_mac}` (colon form) works too.
 */
import { denied, macForms, notFound, text, type Handler } from 'tftpfn/sdk';
import { machineFinder, type Match } from '../_shared/inventory.js';
import inventory from './inventory.json' with { type: 'json' };

const CONFIG_NAME = /^grub\.cfg(?:-(.+))?$/;
// grub.cfg-C0A80007, grub.cfg-C0A8000, ... down to one digit; 32 digits for IPv6.
const IP_HEX_SUFFIX = /^[0-9A-Fa-f]{1,32}$/;
// "01-aa-bb-cc-dd-ee-ff", "aa-bb-cc-dd-ee-ff" or "aa:bb:cc:dd:ee:ff" (net_default_mac), one separator.
const MAC_SUFFIX = /^(?:01-)?[0-9A-Fa-f]{2}([-:])[0-9A-Fa-f]{2}(?:\1[0-9A-Fa-f]{2}){4}$/;
const DEFAULT_TIMEOUT_S = 5;

const findMachine = machineFinder(inventory);

export const handle: Handler = async (request, env) => {
  if (request.kind === 'write') return denied();
  const name = request.path.slice(request.path.lastIndexOf('/') + 1);
  const parts = CONFIG_NAME.exec(name);
  if (!parts) return notFound();
  const suffix = parts[1];
  let mac = request.mac;
  if (suffix !== undefined) {
    // "01-" belongs to the dash form, but a handover written as grub.cfg-01-$net_default_mac
    // gives it with colons: read that as the MAC too.
    if (MAC_SUFFIX.test(suffix)) mac ??= macForms(suffix.replace(/^01-(?=[0-9A-Fa-f]{2}:)/, '')).colon;
    else if (!IP_HEX_SUFFIX.test(suffix)) return notFound();
  }

  const match = await findMachine(env, request, mac);
  env.log.info({ mac, peer: request.peer.address, matchedBy: match?.by, key: match?.key, source: match?.source }, 'grub config');
  if (!match) return notFound();
  return text(renderGrubCfg(match));
};

/**
 * Single quotes keep every character literal in GRUB script, '$' and ';' included; a single
 * quote itself is closed, escaped and reopened, as in sh. Line breaks never get this far (the
 * inventory refuses control characters), so a value is always one word on its own line.
 */
export function grubQuote(value: string): string {
  return `'${value.replaceAll("'", "'\\''")}'`;
}

export function renderGrubCfg({ entry, by, key }: Match): string {
  const title = entry.hostname ?? key;
  const lines = [
    `# tftpfn grub: ${title} (matched by ${by === 'default' ? 'default' : `${by} ${key}`})`,
    'set default=0',
    `set timeout=${entry.menuTimeout ?? DEFAULT_TIMEOUT_S}`,
    `menuentry ${grubQuote(title)} {`,
    `\tlinux ${words([entry.kernel, ...entry.cmdline])}`,
    ...(entry.initrd.length > 0 ? [`\tinitrd ${words(entry.initrd)}`] : []),
    '}',
  ];
  return `${lines.join('\n')}\n`;
}

// Each kernel argument is its own word: GRUB wraps a word holding a space in double quotes
// when it builds the kernel command line, so one quoted "a b" would reach the kernel as "a b".
function words(values: readonly string[]): string {
  return values.map(grubQuote).join(' ');
}
