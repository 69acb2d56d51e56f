/**
 * The control plane's Redis keys and bucket keys are an interface between the CLI and every
 * gateway of a fleet: pinned here, with the one-slot rule for a function's keys.
 */
import { describe, expect, it } from 'vitest';
import { hashTagOf } from '../../../gateway/src/cache/keyspace.js';
import { bundleKeys, controlKeys, functionKeys } from '../../../gateway/src/control/keys.js';

describe('control keys', () => {
  it('fleet-wide keys and the channel', () => {
    expect(controlKeys).toMatchObject({ functions: 'tftpfn:ctl:functions', gateways: 'tftpfn:ctl:gateways', rolloutsChannel: 'tftpfn:ctl:rollouts' });
    expect(controlKeys.gateway('gw-1')).toBe('tftpfn:ctl:gw:gw-1');
  });

  it("a function's keys all carry the hash tag {fn:NAME}, so they share one Cluster slot", () => {
    const k = functionKeys('grub');
    const all = [k.versions, k.clock, k.version('20261207T020304056Z-ab12cd34'), k.rollout, k.acks, k.secrets];
    expect(all).toEqual([
      'tftpfn:ctl:{fn:grub}:versions',
      'tftpfn:ctl:{fn:grub}:clock',
      'tftpfn:ctl:{fn:grub}:version:20261207T020304056Z-ab12cd34',
      'tftpfn:ctl:{fn:grub}:rollout',
      'tftpfn:ctl:{fn:grub}:acks',
      'tftpfn:ctl:{fn:grub}:secrets',
    ]);
    expect(new Set(all.map(hashTagOf))).toEqual(new Set(['fn:grub']));
    expect(k.version('x').startsWith(k.versionPrefix)).toBe(true);
    expect(hashTagOf(functionKeys('ipxe').rollout)).not.toBe(hashTagOf(k.rollout));
  });

  it('bundles are content-addressed under the prefix', () => {
    expect(bundleKeys('fleet/', 'grub', 'ab'.repeat(32))).toEqual({ code: `fleet/functions/grub/${'ab'.repeat(32)}.mjs`, map: `fleet/functions/grub/${'ab'.repeat(32)}.mjs.map` });
    expect(bundleKeys('', 'grub', 'cd').code).toBe('functions/grub/cd.mjs');
  });
});
