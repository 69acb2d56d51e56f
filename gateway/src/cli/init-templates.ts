/**
 * The files `tftpfn init` writes (init.ts): a function project that passes its own test and
 * serves with `tftpfn dev` as written. Kept as text here so the installed package needs no
 * template folder.
 */

export interface ProjectFacts {
  /** The package name (npm rules: lower case, no spaces). */
  readonly name: string;
  /** The version spec the project depends on tftpfn by, e.g. ^0.1.0 or file:../tftpfn-0.1.0.tgz. */
  readonly tftpfnSpec: string;
  /** The vitest range the project tests with (the one tftpfn itself is tested with). */
  readonly vitestSpec: string;
  /** The @types/node range: the SDK's types name Buffer and node: modules. */
  readonly nodeTypesSpec: string;
}

/** Path (relative to the project) → content. */
export function projectFiles(p: ProjectFacts): Record<string, string> {
  return {
    'package.json': `${JSON.stringify(
      {
        name: p.name,
        version: '0.1.0',
        private: true,
        type: 'module',
        scripts: {
          // --name: the folder (src) would name it otherwise.
          dev: `tftpfn dev src/index.ts --name ${p.name} --port 6969`,
          test: 'vitest run',
          invoke: 'tftpfn invoke src/index.ts --path hello.txt',
          build: 'tftpfn build src/index.ts',
        },
        dependencies: { tftpfn: p.tftpfnSpec },
        devDependencies: { '@types/node': p.nodeTypesSpec, vitest: p.vitestSpec },
      },
      null,
      2,
    )}\n`,
    'src/index.ts': `import { notFound, text, type Handler } from 'tftpfn/sdk';

/**
 * Answers every TFTP read: hello.txt greets the client, anything else is "file not found".
 * env.vars come from tftpfn.json (deploy) or --var NAME=VALUE (tftpfn dev).
 */
export const handle: Handler = (request, env) => {
  if (request.path === 'hello.txt') {
    const greeting = env.vars.GREETING ?? 'hello';
    return text(\`\${greeting} from ${p.name}, \${request.peer.address}\\n\`);
  }
  return notFound();
};
`,
    'test/index.test.ts': `import { invoke } from 'tftpfn/sdk';
import { describe, expect, test } from 'vitest';
import { handle } from '../src/index.js';

// invoke() runs the handler as the gateway would (request defaults: peer 192.0.2.10, octet
// read), with the gateway's own checks of what it returns.
describe('${p.name}', () => {
  test('hello.txt greets the client', async () => {
    const result = await invoke(handle, 'hello.txt');
    expect(result.errorCode).toBeUndefined();
    expect(result.body.toString()).toBe('hello from ${p.name}, 192.0.2.10\\n');
  });

  test('a var changes the greeting', async () => {
    const result = await invoke(handle, 'hello.txt', { vars: { GREETING: 'hi' } });
    expect(result.body.toString()).toBe('hi from ${p.name}, 192.0.2.10\\n');
  });

  test('any other path is file not found (ERROR 1)', async () => {
    const result = await invoke(handle, 'missing.bin');
    expect(result.errorCode).toBe(1);
  });
});
`,
    // The manifest sits beside the entry (control/manifest.ts manifestPath).
    'src/tftpfn.json': `${JSON.stringify({ vars: { GREETING: 'hello' }, timeoutMs: 5000, routes: [{ match: 'hello.txt' }] }, null, 2)}\n`,
    'tsconfig.json': `${JSON.stringify(
      { compilerOptions: { target: 'es2022', module: 'nodenext', moduleResolution: 'nodenext', strict: true, noEmit: true, skipLibCheck: true, types: ['node'] }, include: ['src', 'test'] },
      null,
      2,
    )}\n`,
    '.gitignore': 'node_modules/\ndist/\n',
    'README.md': `# ${p.name}

A [tftpfn](https://www.npmjs.com/package/tftpfn) function: \`src/index.ts\` answers TFTP reads.

\`\`\`sh
npm install
npm test                                  # the tests in test/, through tftpfn/sdk's invoke harness
npm run dev                               # serves it on UDP 127.0.0.1:6969, reloading on every save
curl -s tftp://127.0.0.1:6969/hello.txt   # in another terminal
npx tftpfn invoke src/index.ts --path hello.txt   # one request, no network
\`\`\`

\`src/tftpfn.json\` holds the settings that travel with every version you deploy (vars, limits,
routes); \`npx tftpfn deploy src/index.ts --name ${p.name} --deploy-dir DIR\` publishes it to a
gateway's deploy folder. More: the tftpfn package's \`sdk/README.md\` and \`docs/FUNCTIONS.md\`.
`,
  };
}
