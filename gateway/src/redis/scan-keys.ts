/**
 * SCAN MATCH over the whole keyspace, whatever the topology: a Cluster spreads keys over its
 * masters and SCAN reads one node only, so each master is scanned in turn. For a CLI or a rare
 * admin path, never a hot one: it walks every key of every node.
 */
import { isCluster, type RedisClient } from './connection.js';

export async function scanKeys(client: RedisClient, pattern: string, countHint = 1000): Promise<string[]> {
  const nodes = isCluster(client) ? client.nodes('master') : [client];
  const found = new Set<string>();
  for (const node of nodes) {
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', countHint);
      cursor = next;
      for (const k of keys) found.add(k);
    } while (cursor !== '0');
  }
  return [...found];
}
