/**
 * The README's configuration table is generated from the schema (scripts/gen-config-table.mjs,
 * `npm run docs:config`): this fails when it is stale or a config field has no row.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
// @ts-expect-error: a plain .mjs script without type declarations
import { renderTable, withTable } from '../../../scripts/gen-config-table.mjs';
import { configSchema } from '../../../gateway/src/config/schema.js';
import { REPO } from '../../helpers/cli.js';

describe('README config table', () => {
  it('docs: every config field has a row, and the README holds exactly the generated table', async () => {
    const { table, problems } = (await renderTable()) as { table: string; problems: string[] };
    expect(problems).toEqual([]);
    for (const field of Object.keys(configSchema.shape)) expect(table).toContain(`\`${field}\``);
    const readme = readFileSync(join(REPO, 'README.md'), 'utf8');
    expect(withTable(readme, table), 'README.md is stale: run `npm run docs:config`').toBe(readme);
  }, 30_000);

  it('docs: the table names the environment variables and flags the code reads (TFTPFN_METRICS_HOST, --redis-url)', async () => {
    const { table } = (await renderTable()) as { table: string };
    expect(table).toMatch(/\| `metricsPort`, `metricsHost` \| `--metrics-port` \| `TFTPFN_METRICS_PORT`, `TFTPFN_METRICS_HOST` \|/);
    expect(table).toMatch(/\| `redisUrl` \| `--redis-url` \| `TFTPFN_REDIS_URL` \|/);
    expect(table).toMatch(/\| `hosts` \| `--host` \(repeatable\) \| `TFTPFN_HOSTS` \| `0\.0\.0\.0`, `::` \|/);
  }, 30_000);
});
