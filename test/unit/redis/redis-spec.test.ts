import { describe, expect, it } from 'vitest';
import { parseRedisUrl, redactRedisUrl, redisUrlProblem } from '../../../gateway/src/redis/redis-spec.js';
import { parseConfig } from '../../../gateway/src/config/load.js';

describe('redis url', () => {
  it('redis url: one server passes through as the URL ioredis parses', () => {
    expect(parseRedisUrl('redis://127.0.0.1:6379/2')).toEqual({ kind: 'single', url: 'redis://127.0.0.1:6379/2' });
    expect(parseRedisUrl('rediss://u:p@h:6380')).toEqual({ kind: 'single', url: 'rediss://u:p@h:6380' });
  });

  it('redis url: a Sentinel URL names the sentinels (port 26379 by default), the master, the db and credentials', () => {
    expect(parseRedisUrl('redis-sentinel://10.0.0.1:26380,10.0.0.2,[::1]:5000/mymaster/3')).toEqual({
      kind: 'sentinel',
      sentinels: [
        { host: '10.0.0.1', port: 26380 },
        { host: '10.0.0.2', port: 26379 },
        { host: '::1', port: 5000 },
      ],
      name: 'mymaster',
      db: 3,
    });
    expect(parseRedisUrl('redis-sentinel://:s%40cret@h:1/m')).toMatchObject({ kind: 'sentinel', name: 'm', db: 0, password: 's@cret' });
    expect(parseRedisUrl('redis-sentinel://user:pw@h:1/m')).toMatchObject({ username: 'user', password: 'pw' });
  });

  it('redis url: a Cluster URL names its seed nodes (port 6379 by default)', () => {
    expect(parseRedisUrl('redis-cluster://a:7000,b')).toEqual({
      kind: 'cluster',
      nodes: [
        { host: 'a', port: 7000 },
        { host: 'b', port: 6379 },
      ],
    });
    expect(parseRedisUrl('redis-cluster://:pw@a:7000/')).toMatchObject({ kind: 'cluster', password: 'pw' });
  });

  it('redis url: a bad value says what to write instead', () => {
    expect(redisUrlProblem('http://x')).toMatch(/^use redis:\/\/HOST:PORT\[\/DB\].*redis-sentinel:\/\/.*redis-cluster:\/\//);
    expect(redisUrlProblem('redis-sentinel://a:1,b:2')).toMatch(/name the master Sentinel monitors: redis-sentinel:\/\/H1:P1,H2:P2\/MASTER/);
    expect(redisUrlProblem('redis-sentinel://a:1/m/x')).toMatch(/database after the master name is a number/);
    expect(redisUrlProblem('redis-cluster://a:1/m')).toMatch(/database 0 only/);
    expect(redisUrlProblem('redis-cluster://a:99999')).toMatch(/"a:99999" is not HOST:PORT/);
    expect(redisUrlProblem('redis-cluster://a:1,,b')).toMatch(/"" is not HOST:PORT/);
    expect(redisUrlProblem('rediss-cluster://a:1')).toMatch(/TLS to Sentinel or Cluster is not supported/);
    expect(redisUrlProblem('redis-cluster://a:1,b:2')).toBeUndefined();
  });

  it('redis url: the config field refuses a bad URL, naming redisUrl, and takes all three forms', () => {
    expect(() => parseConfig({ redisUrl: 'redis-sentinel://a:1' })).toThrow(/redisUrl[\s\S]*name the master Sentinel monitors/);
    for (const url of ['redis://h:1/0', 'redis-sentinel://a:1,b:2/mymaster', 'redis-cluster://a:1,b:2,c:3']) {
      expect(parseConfig({ redisUrl: url }).redisUrl).toBe(url);
    }
  });

  it('redis url: passwords are masked in every form', () => {
    expect(redactRedisUrl('redis://user:secret@127.0.0.1:6379/2')).toBe('redis://user:***@127.0.0.1:6379/2');
    expect(redactRedisUrl('redis-sentinel://user:secret@a:1,b:2/m')).toBe('redis-sentinel://user:***@a:1,b:2/m');
    expect(redactRedisUrl('redis-cluster://:secret@a:1,b:2')).toBe('redis-cluster://:***@a:1,b:2');
    expect(redactRedisUrl('redis-cluster://a:1,b:2')).toBe('redis-cluster://a:1,b:2');
    expect(redactRedisUrl('redis-cluster://a b')).toBe('(invalid redis url)');
  });
});
