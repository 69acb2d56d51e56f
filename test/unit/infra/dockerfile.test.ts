/**
 * infra/Dockerfile, checked without a container engine (none on the machines this project
 * tests on): dockerfile-utils validates its syntax (the validator of the VS Code Docker
 * extension), and the settings issue 14 asks for are read back from it. Its HEALTHCHECK command
 * is run as written against a real gateway's metrics server.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { validate } from 'dockerfile-utils';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { startGateway } from '../../../gateway/src/app/start-gateway.js';
import { loadConfig } from '../../../gateway/src/config/load.js';
import { REPO } from '../../helpers/cli.js';
import { freePort } from '../../helpers/free-port.js';
import { makeRoot } from '../../helpers/gateway.js';
import { envOf, instructions } from './dockerfile-lines.js';

const text = readFileSync(join(REPO, 'infra/Dockerfile'), 'utf8');
const list = instructions(text);
const runtime = Math.max(...list.map((i) => i.stage));
const inRuntime = (keyword: string) => list.filter((i) => i.stage === runtime && i.keyword === keyword);

describe('infra/Dockerfile', () => {
  it('dockerfile: the validator finds no problem, and it finds them in a broken copy', () => {
    expect(validate(text).map((d) => `${d.range.start.line + 1}: ${d.message}`)).toEqual([]);
    // The validator is live: the same file with a bad port protocol and a misspelt flag fails.
    const broken = text.replace('EXPOSE 69/udp', 'EXPOSE 69/udpx').replace('HEALTHCHECK --interval', 'HEALTHCHECK --intervall');
    expect(validate(broken).map((d) => d.message)).toEqual(['Invalid proto: udpx', 'Unknown flag: intervall']);
  });

  it('dockerfile: two stages; the build runs npm ci, the build and a production prune, and the runtime copies only its result', () => {
    const froms = list.filter((i) => i.keyword === 'FROM');
    expect(froms).toHaveLength(2);
    expect(froms[0].args).toMatch(/ AS build$/);
    const buildRuns = list.filter((i) => i.stage === 0 && i.keyword === 'RUN').map((i) => i.args).join(' && ');
    expect(buildRuns).toMatch(/npm ci .*npm run build .*npm prune --omit=dev/);
    expect(inRuntime('COPY').map((i) => i.args)).toEqual(['--from=build /app /app']);
    // The build stage's COPY sources exist at the context root (the checkout).
    for (const c of list.filter((i) => i.stage === 0 && i.keyword === 'COPY')) {
      for (const src of c.args.split(/\s+/).slice(0, -1)) expect(existsSync(join(REPO, src)), src).toBe(true);
    }
    // Node 24 LTS by default.
    expect(list.find((i) => i.keyword === 'ARG')?.args).toBe('NODE_IMAGE=node:24-bookworm-slim');
  });

  it('dockerfile: the runtime runs as the non-root node user, with the bind capability on the node binary', () => {
    expect(inRuntime('USER').map((i) => i.args)).toEqual(['node']);
    expect(inRuntime('RUN').map((i) => i.args).join(' ')).toContain('setcap cap_net_bind_service=+ep');
    expect(inRuntime('EXPOSE').map((i) => i.args)).toEqual(['69/udp 9469/tcp']);
    expect(inRuntime('ENTRYPOINT').map((i) => i.args)).toEqual(['["node", "/app/bin/tftpfn.js"]']);
  });

  it('dockerfile: its environment is a valid configuration with metrics on every interface at 9469', () => {
    const env = envOf(list, runtime);
    expect(env.TFTPFN_METRICS_HOST).toBe('0.0.0.0');
    const warnings: string[] = [];
    const tftpfnEnv = Object.fromEntries(Object.entries(env).filter(([k]) => k.startsWith('TFTPFN_')));
    const config = loadConfig({ env: tftpfnEnv, onWarning: (w) => warnings.push(w) });
    // Deliberate: in a container 0.0.0.0 is the container's own network (Docker's port mapping
    // decides what reaches it), and the HEALTHCHECK and probes need more than loopback.
    expect(warnings).toEqual([expect.stringMatching(/^metricsHost 0\.0\.0\.0 serves \/metrics, \/healthz and \/readyz on every interface/)]);
    expect({ port: config.port, root: config.root, metricsPort: config.metricsPort, metricsHost: config.metricsHost }).toEqual({
      port: 69,
      root: '/srv/tftp',
      metricsPort: 9469,
      metricsHost: '0.0.0.0',
    });
  });

  it('dockerfile: the HEALTHCHECK command, run as written, passes against a live gateway and fails against a closed port', async () => {
    const [hc] = inRuntime('HEALTHCHECK');
    expect(hc.args).toMatch(/^--interval=\S+ --timeout=\S+ --start-period=\S+ --retries=\d+ CMD \[/);
    const argv = JSON.parse(hc.args.slice(hc.args.indexOf('CMD ') + 4)) as string[];
    expect(argv.slice(0, 2)).toEqual(['node', '-e']);
    expect(argv[2]).toContain('/healthz');
    // Asynchronous: the metrics server runs in this process.
    const exitCode = (port: number) =>
      new Promise<number | null>((resolve) => {
        const child = execFile(process.execPath, argv.slice(1), { env: { TFTPFN_METRICS_PORT: String(port) }, timeout: 10_000 });
        child.on('exit', (code) => resolve(code));
      });
    const gw = await startGateway({ config: { hosts: ['127.0.0.1'], port: 0, root: makeRoot(), metricsPort: 0 }, logger: pino({ level: 'silent' }) });
    try {
      expect(await exitCode(gw.metricsPort!)).toBe(0);
    } finally {
      await gw.close(0);
    }
    expect(await exitCode(await freePort('tcp'))).toBe(1);
  });
});
