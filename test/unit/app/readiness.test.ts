import { describe, expect, it } from 'vitest';
import { GatewayReadiness, readinessOf } from '../../../gateway/src/app/readiness.js';

describe('readiness', () => {
  it('readiness: ready when listening, not closing and every function has a version', () => {
    expect(readinessOf({ listening: true, closing: false, functions: [{ name: 'grub', version: 'v1' }] })).toEqual({ ready: true, reasons: [] });
  });

  it('readiness: names every reason: unbound listeners, then each function with no version', () => {
    expect(readinessOf({ listening: false, closing: false, functions: [{ name: 'grub', version: undefined }, { name: 'ipxe', version: 'v2' }] })).toEqual({
      ready: false,
      reasons: ['listeners not bound', 'function grub has no version loaded'],
    });
  });

  it('readiness: shutting down comes first and replaces the listener reason', () => {
    expect(readinessOf({ listening: false, closing: true, functions: [] })).toEqual({ ready: false, reasons: ['shutting down'] });
    expect(readinessOf({ listening: true, closing: true, functions: [{ name: 'grub', version: undefined }] }).reasons).toEqual([
      'shutting down',
      'function grub has no version loaded',
    ]);
  });

  it('readiness: the gateway flags go from not bound, to ready, to shutting down, reading functions live', () => {
    let version: string | undefined;
    const r = new GatewayReadiness(() => [{ name: 'grub', version }]);
    const check = r.check;
    expect(check().reasons).toEqual(['listeners not bound', 'function grub has no version loaded']);
    r.listenersBound();
    version = 'v1';
    expect(check()).toEqual({ ready: true, reasons: [] });
    r.shuttingDown();
    expect(check()).toEqual({ ready: false, reasons: ['shutting down'] });
  });
});
