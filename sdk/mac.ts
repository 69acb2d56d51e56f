/**
 * MAC addresses in request paths, in the forms network boot firmware and boot loaders ask for:
 *
 *   pxelinux.cfg/01-aa-bb-cc-dd-ee-ff     pxelinux: ARP type 01 (Ethernet), then the MAC
 *   grub.cfg-01-aa-bb-cc-dd-ee-ff         GRUB's net_bootp config search
 *   01-aa-bb-cc-dd-ee-ff.ipxe             the same prefix anywhere as a path segment
 *   aa:bb:cc:dd:ee:ff/ipxe.efi            a folder per machine, colon form
 *   aa-bb-cc-dd-ee-ff/grub.cfg            a folder per machine, dash form
 *   grub.cfg-aa:bb:cc:dd:ee:ff            GRUB's grub.cfg-${net_default_mac}
 *
 * A bare 12-digit hex name ("aabbccddeeff") is not taken as a MAC: too many real file names
 * look like that. Nor is a segment whose first octet has the group bit set (01, 03, ...): a
 * NIC's address is unicast, and this keeps "01-aa-bb-cc-dd-ee" (a truncated pxelinux name)
 * from reading as the MAC 01:aa:bb:cc:dd:ee.
 */

const PAIR = '[0-9a-fA-F]{2}';
const DASHED = `${PAIR}(?:-${PAIR}){5}`;
const COLONED = `${PAIR}(?::${PAIR}){5}`;
// "01-" + dashed MAC, at the start of a segment or after a separator ("grub.cfg-01-..."),
// and not running on into more hex, dashes or colons.
const PXE_FORM = new RegExp(`(?:^|[^0-9A-Za-z])01-(${DASHED})(?=$|[^0-9A-Za-z:-])`);
// A segment that is a MAC, optionally followed by an extension ("aa-bb-cc-dd-ee-ff.cfg").
const BARE_FORM = new RegExp(`^(${DASHED}|${COLONED})(?=$|\\.)`);
// A MAC closing a segment after a dash: "grub.cfg-aa:bb:cc:dd:ee:ff", which GRUB's
// `configfile grub.cfg-${net_default_mac}` asks for, and its dashed twin.
// The dash must not follow another pair ("01-12-34-56-78-9a-bc-de" is seven pairs, no MAC).
const SUFFIX_FORM = new RegExp(`(?<![-:]${PAIR})(?<!^${PAIR})-(${DASHED}|${COLONED})$`);
const ANY_MAC = new RegExp(`^(?:01-(${DASHED})|(${DASHED}|${COLONED}|[0-9a-fA-F]{12}))$`);

/**
 * Finds a MAC address in a request path, in the common provisioning forms, and returns it in
 * lower-case colon form; undefined when the path carries none. The first segment that holds
 * one wins.
 *
 * @example
 * ```ts
 * import { parseMac } from 'tftpfn/sdk';
 *
 * parseMac('pxelinux.cfg/01-AA-BB-CC-DD-EE-FF'); // 'aa:bb:cc:dd:ee:ff'
 * parseMac('grub.cfg-01-aa-bb-cc-dd-ee-ff');      // 'aa:bb:cc:dd:ee:ff'
 * parseMac('aa:bb:cc:dd:ee:ff/ipxe.efi');         // 'aa:bb:cc:dd:ee:ff'
 * parseMac('grub.cfg-52:54:00:12:34:56');        // '52:54:00:12:34:56'
 * parseMac('pxelinux.cfg/default');               // undefined
 * ```
 */
export function parseMac(path: string): string | undefined {
  for (const segment of path.split('/')) {
    if (segment === '') continue;
    const pxe = PXE_FORM.exec(segment);
    if (pxe) return canonical(pxe[1]);
    // IEEE 802: the low bit of the first octet marks a group (multicast) address, which no
    // NIC has; that also keeps a truncated "x-01-aa-bb-cc-dd-ee" from reading as a MAC.
    const bare = BARE_FORM.exec(segment) ?? SUFFIX_FORM.exec(segment);
    if (bare && (parseInt(bare[1].slice(0, 2), 16) & 1) === 0) return canonical(bare[1]);
  }
  return undefined;
}

/**
 * The spellings of one MAC address that file names use; see {@link macForms}.
 *
 * @example
 * ```ts
 * const forms: MacForms = macForms('aa:bb:cc:dd:ee:ff');
 * const candidates = [forms.pxe, forms.colon, forms.dash];
 * ```
 */
export interface MacForms {
  /** `aa:bb:cc:dd:ee:ff` */
  readonly colon: string;
  /** `aa-bb-cc-dd-ee-ff` */
  readonly dash: string;
  /** `01-aa-bb-cc-dd-ee-ff`, the pxelinux.cfg file name */
  readonly pxe: string;
}

/**
 * Spells one MAC address every way file names use, all lower-case. Accepts colon, dash,
 * `01-`-prefixed or bare 12-digit hex input, in any case; throws a TypeError on anything else.
 *
 * @example
 * ```ts
 * import { macForms } from 'tftpfn/sdk';
 *
 * const { colon, dash, pxe } = macForms('AA:BB:CC:DD:EE:FF');
 * // colon 'aa:bb:cc:dd:ee:ff', dash 'aa-bb-cc-dd-ee-ff', pxe '01-aa-bb-cc-dd-ee-ff'
 * const entry = inventory[colon] ?? inventory[dash];
 * ```
 */
export function macForms(mac: string): MacForms {
  const m = typeof mac === 'string' ? ANY_MAC.exec(mac) : null;
  if (!m) {
    throw new TypeError(`macForms: ${JSON.stringify(mac)} is not a MAC address; expected e.g. "aa:bb:cc:dd:ee:ff"`);
  }
  const colon = canonical(m[1] ?? m[2]);
  const dash = colon.replaceAll(':', '-');
  return { colon, dash, pxe: `01-${dash}` };
}

function canonical(mac: string): string {
  const hex = mac.replace(/[-:]/g, '').toLowerCase();
  return hex.match(/../g)!.join(':');
}
