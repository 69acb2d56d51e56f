/**
 * /readyz with deployed functions (app/readiness.ts; issue 12): a route to a function with no
 * loaded version is not ready and the reason names it; serving cached versions while the
 * control plane is unreachable is ready, with the degraded state as a reason line.
 */
import { describe, expect, it } from 'vitest';
import { GatewayReadiness, readinessOf, routedFunctions } from '../../../gateway/src/app/readiness.js';
import { DEGRADED_CACHED } from '../../../gateway/src/runtime/fleet-source.js';

describe('readyz with a control plane', () => {
  it('is not ready while a route names a function the runtime has never loaded, and names it', () => {
    expect(readinessOf({ listening: true, closing: false, functions: [{ name: 'grub', version: 'v1' }], routed: ['grub', 'ipxe'] })).toEqual({
      ready: false,
      reasons: ['function ipxe has no version loaded'],
    });
  });

  it('names a routed function once when it has a slot without a version', () => {
    expect(readinessOf({ listening: true, closing: false, functions: [{ name: 'ipxe', version: undefined }], routed: ['ipxe'] }).reasons).toEqual([
      'function ipxe has no version loaded',
    ]);
  });

  it('is ready while degraded, and says so', () => {
    expect(readinessOf({ listening: true, closing: false, functions: [{ name: 'grub', version: 'v1' }], routed: ['grub'], degraded: DEGRADED_CACHED })).toEqual({
      ready: true,
      reasons: ['degraded: control plane unreachable, serving cached versions'],
    });
  });

  it('finds the functions of the routes and of the default route', () => {
    expect(routedFunctions([{ match: 'grub/**', function: 'grub' }, { match: '*.ipxe', function: 'ipxe' }, { match: 'x/**', folder: '/srv' }], { function: 'fallback' }).sort()).toEqual([
      'fallback',
      'grub',
      'ipxe',
    ]);
  });

  it('reads the functions and the degraded state live', () => {
    let degraded: string | undefined = DEGRADED_CACHED;
    let version: string | undefined;
    const r = new GatewayReadiness(() => [{ name: 'grub', version }], ['grub'], () => degraded);
    r.listenersBound();
    expect(r.check()).toEqual({ ready: false, reasons: ['function grub has no version loaded', `degraded: ${DEGRADED_CACHED}`] });
    version = 'v1';
    degraded = undefined;
    expect(r.check()).toEqual({ ready: true, reasons: [] });
  });
});
