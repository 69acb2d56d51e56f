/**
 * infra/kubernetes/*.yaml, validated without a cluster: every document against the Kubernetes
 * API schemas that kubernetes-models ships (types, formats, required fields), then unknown
 * fields through its TypeScript types (the schemas accept any extra key; `satisfies` does not),
 * then what issue 14 asks of the DaemonSet, and its ConfigMap and environment loaded as a
 * gateway configuration.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigMap, Service } from 'kubernetes-models/v1';
import { DaemonSet, Deployment } from 'kubernetes-models/apps/v1';
import { parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../gateway/src/config/load.js';
import { REPO } from '../../helpers/cli.js';

interface Doc {
  file: string;
  index: number;
  value: Record<string, any>;
}

const dir = join(REPO, 'infra/kubernetes');
const files = readdirSync(dir).filter((f) => f.endsWith('.yaml'));
const docs: Doc[] = files.flatMap((file) =>
  parseAllDocuments(readFileSync(join(dir, file), 'utf8')).map((d, index) => {
    if (d.errors.length > 0) throw new Error(`${file} document ${index}: ${d.errors.map((e) => e.message).join('; ')}`);
    return { file, index, value: d.toJS() as Record<string, any> };
  }),
);

/** apiVersion/kind → the model that validates it, and the TypeScript type name for the unknown-field check. */
const MODELS: Record<string, { model: new (data: any) => { validate(): void }; type: string; from: string }> = {
  'v1/ConfigMap': { model: ConfigMap, type: 'IConfigMap', from: 'kubernetes-models/v1' },
  'v1/Service': { model: Service, type: 'IService', from: 'kubernetes-models/v1' },
  'apps/v1/DaemonSet': { model: DaemonSet, type: 'IDaemonSet', from: 'kubernetes-models/apps/v1' },
  'apps/v1/Deployment': { model: Deployment, type: 'IDeployment', from: 'kubernetes-models/apps/v1' },
};
const modelOf = (d: Doc) => MODELS[`${d.value.apiVersion}/${d.value.kind}`];

const daemonSet = docs.find((d) => d.file === 'daemonset.yaml' && d.value.kind === 'DaemonSet')!.value;
const configMap = docs.find((d) => d.file === 'daemonset.yaml' && d.value.kind === 'ConfigMap')!.value;
const pod = daemonSet.spec.template;
const gateway = pod.spec.containers[0];

describe('infra/kubernetes', () => {
  it('kubernetes: every document is a known kind and valid against the API schema; a broken copy is not', () => {
    expect(files.sort()).toEqual(['daemonset.yaml', 'service-single-port.yaml']);
    for (const d of docs) {
      const m = modelOf(d);
      expect(m, `${d.file} #${d.index}: ${d.value.apiVersion} ${d.value.kind}`).toBeDefined();
      expect(() => new m.model(d.value).validate(), `${d.file} #${d.index}`).not.toThrow();
    }
    const broken = structuredClone(daemonSet);
    broken.spec.template.spec.containers[0].ports[0].containerPort = '69';
    expect(() => new DaemonSet(broken).validate()).toThrow(/containerPort must be integer/);
  });

  it('kubernetes: no document has a field the API does not know (TypeScript excess-property check), and a misspelt one is caught', () => {
    // Under node_modules so the .mts file resolves kubernetes-models; removed afterwards.
    const base = join(REPO, 'node_modules/.cache');
    mkdirSync(base, { recursive: true });
    const work = mkdtempSync(join(base, 'tftpfn-k8s-'));
    try {
      const imports = [...new Set(docs.map((d) => `import type { ${modelOf(d).type} } from '${modelOf(d).from}';`))];
      const checks = docs.map((d, i) => `export const doc${i} = ${JSON.stringify(d.value)} satisfies ${modelOf(d).type};`);
      const misspelt = structuredClone(daemonSet);
      misspelt.spec.template.spec.containers[0].livenesProbe = misspelt.spec.template.spec.containers[0].livenessProbe;
      checks.push(`// @ts-expect-error livenesProbe is not a container field\nexport const misspelt = ${JSON.stringify(misspelt)} satisfies IDaemonSet;`);
      writeFileSync(join(work, 'manifests.mts'), [...imports, ...checks].join('\n') + '\n');
      const r = spawnSync(
        join(REPO, 'node_modules/.bin/tsc'),
        ['--ignoreConfig', '--noEmit', '--strict', '--skipLibCheck', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022', '--types', '', 'manifests.mts'],
        { cwd: work, encoding: 'utf8', timeout: 60_000 },
      );
      expect(r.stdout + r.stderr).toBe('');
      expect(r.status).toBe(0);
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });

  it('kubernetes: the DaemonSet runs the image on the host network, non-root with only NET_BIND_SERVICE, with probes, resources and scrape annotations on the metrics port', () => {
    expect(pod.spec.hostNetwork).toBe(true);
    expect(pod.spec.dnsPolicy).toBe('ClusterFirstWithHostNet');
    expect(gateway.image).toMatch(/^\S*tftpfn:\d+\.\d+\.\d+$/);
    expect(pod.spec.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 1000 });
    expect(gateway.securityContext.capabilities).toEqual({ drop: ['ALL'], add: ['NET_BIND_SERVICE'] });
    // The image's file capability needs privilege escalation allowed (no no_new_privs).
    expect(gateway.securityContext.allowPrivilegeEscalation).toBe(true);
    const metricsPort = gateway.ports.find((p: any) => p.name === 'metrics').containerPort;
    expect(metricsPort).toBe(9469);
    expect(gateway.ports.find((p: any) => p.name === 'tftp')).toEqual({ name: 'tftp', containerPort: 69, protocol: 'UDP' });
    expect(gateway.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'metrics' });
    expect(gateway.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'metrics' });
    expect(Object.keys(gateway.resources).sort()).toEqual(['limits', 'requests']);
    expect(gateway.resources.limits.memory).toBeDefined();
    expect(pod.metadata.annotations).toEqual({ 'prometheus.io/scrape': 'true', 'prometheus.io/port': String(metricsPort), 'prometheus.io/path': '/metrics' });
    // The config file the args name is the ConfigMap, mounted there.
    expect(gateway.args).toEqual(['serve', '--config', '/etc/tftpfn/config.json']);
    const mount = gateway.volumeMounts.find((m: any) => m.mountPath === '/etc/tftpfn');
    expect(pod.spec.volumes.find((v: any) => v.name === mount.name).configMap.name).toBe(configMap.metadata.name);
    // The drain fits in the grace period.
    expect(pod.spec.terminationGracePeriodSeconds * 1000).toBeGreaterThan(JSON.parse(configMap.data['config.json']).shutdownGraceMs);
  });

  it('kubernetes: the ConfigMap and the container environment load as a gateway configuration, metrics on the pod address', () => {
    const env: Record<string, string> = {};
    const fieldValues: Record<string, string> = { 'status.podIP': '10.1.2.3', 'spec.nodeName': 'node-1' };
    for (const e of gateway.env) {
      if (e.value !== undefined) env[e.name] = e.value;
      else if (e.valueFrom.fieldRef) env[e.name] = fieldValues[e.valueFrom.fieldRef.fieldPath];
      else if (e.valueFrom.secretKeyRef) env[e.name] = 'x'.repeat(32);
    }
    const work = mkdtempSync(join(tmpdir(), 'tftpfn-k8s-config-'));
    try {
      const file = join(work, 'config.json');
      writeFileSync(file, configMap.data['config.json']);
      const warnings: string[] = [];
      const config = loadConfig({ configFile: file, env, onWarning: (w) => warnings.push(w) });
      expect(warnings).toEqual([]);
      expect(config).toMatchObject({ port: 69, root: '/srv/tftp', metricsHost: '10.1.2.3', metricsPort: 9469, gatewayId: 'node-1', singlePort: false });
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });
});
