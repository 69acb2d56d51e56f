import { describe, expect, it } from 'vitest';
import { cachedKey, envKvKey, hashTagOf, isEnvKvKey, objectChunkKey, objectMetaKey, REDIS_KEY_PREFIX, STATS_STREAM_KEY, statsKeys } from '../../../gateway/src/cache/keyspace.js';
import { DEFAULTS } from '../../../gateway/src/config/defaults.js';
import { tagAllButEnvKv } from '../../../gateway/src/cache/tagged-kv.js';

// The key layout is shared by every gateway of a fleet and by the CLI: pinned, so a change is deliberate.
describe('keyspace', () => {
  it('keyspace: every key the gateway writes has its fixed layout', () => {
    expect(REDIS_KEY_PREFIX).toBe('tftpfn:');
    expect(envKvKey('inventory')).toBe('kv:inventory');
    expect(cachedKey('grub', 'mac')).toBe('cached:grub:mac');
    expect(objectMetaKey('boot/vmlinuz')).toBe('meta:boot/vmlinuz');
    expect(objectChunkKey('boot/vmlinuz', '"e1"', 1048576, 3)).toBe('obj:boot/vmlinuz@"e1":1048576:3');
    expect(STATS_STREAM_KEY).toBe('tftpfn:sessions');
    expect(DEFAULTS.statsStreamKey).toBe(STATS_STREAM_KEY);
    // The stats keys carry the stream's hash tag (one Redis Cluster slot for a whole batch).
    const k = statsKeys();
    expect([k.gateways, k.gateway('g1', 60), k.fn('grub', 60), k.topFile(60), k.topPeer(60)]).toEqual([
      'tftpfn:stats:{tftpfn:sessions}:gateways',
      'tftpfn:stats:{tftpfn:sessions}:gw:g1:60',
      'tftpfn:stats:{tftpfn:sessions}:fn:grub:60',
      'tftpfn:stats:{tftpfn:sessions}:top:file:60',
      'tftpfn:stats:{tftpfn:sessions}:top:peer:60',
    ]);
  });

  it('keyspace: stats keys share the hash tag of the stream key, its own tag when it has one', () => {
    expect(hashTagOf('tftpfn:sessions')).toBe('tftpfn:sessions');
    expect(hashTagOf('a:{s}:b{c}')).toBe('s');
    expect(hashTagOf('a{}b')).toBe('a{}b');
    expect(statsKeys('p:', 'fleet:{stats}:sessions').gateway('g', 0)).toBe('p:stats:{stats}:gw:g:0');
    expect(() => statsKeys('p:', 'a{}b')).toThrow(/statsStreamKey "a\{\}b": braces must enclose a Redis Cluster hash tag/);
  });

  it('keyspace: only env.kv keys are left untagged', () => {
    expect(isEnvKvKey(envKvKey('x'))).toBe(true);
    expect(tagAllButEnvKv(envKvKey('x'))).toBe(false);
    expect(tagAllButEnvKv(cachedKey('f', 'x'))).toBe(true);
    expect(tagAllButEnvKv(objectMetaKey('b/k'))).toBe(true);
  });
});
