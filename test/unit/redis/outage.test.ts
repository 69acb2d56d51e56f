import { describe, expect, it } from 'vitest';
import { RedisOutage } from '../../../gateway/src/redis/outage.js';
import { reconnectDelayMs, redactRedisUrl } from '../../../gateway/src/redis/connection.js';

describe('redis outage', () => {
  it('redis outage: the first down starts one outage, repeats are the same outage, the first up ends it with its length', () => {
    let now = 1000;
    const outage = new RedisOutage(() => now);
    expect(outage.active).toBe(false);
    expect(outage.end()).toBeUndefined();
    expect(outage.start()).toBe(true);
    now += 250;
    expect(outage.start()).toBe(false);
    expect(outage.active).toBe(true);
    now += 500.4;
    expect(outage.end()).toBe(750);
    expect(outage.active).toBe(false);
    expect(outage.end()).toBeUndefined();
    expect(outage.start()).toBe(true);
  });

  it('redis connection: reconnect delays grow by 100 ms and stop at 2 s; a URL password is masked', () => {
    expect([1, 5, 20, 1000].map(reconnectDelayMs)).toEqual([100, 500, 2000, 2000]);
    expect(redactRedisUrl('redis://user:secret@127.0.0.1:6379/2')).toBe('redis://user:***@127.0.0.1:6379/2');
    expect(redactRedisUrl('not a url')).toBe('(invalid redis url)');
  });
});
