// The npm `tftp` package's server (node-tftp 0.1.2, unmaintained since 2015) serving a folder, for
// the benchmark (bench/servers.ts, npmTftpSpec):
//
//   node bench/npm-tftp-server.mjs --host 127.0.0.1 --port PORT --root ROOT
//
// Plain JavaScript, not compiled, so the harness and its tests run the same file from the source
// tree and from dist/. createServer caps what it grants at its client defaults (blksize 1468,
// windowsize 4) unless told otherwise; the caps are raised to the largest the scenarios ask
// (blksize 65464, windowsize 64), as anyone benchmarking it would. Uploads are refused (denyPUT):
// the other servers under test serve read-only too.
//
// Prints `listening HOST:PORT` on stdout once bound; exits on SIGTERM/SIGINT.
import { createRequire } from 'node:module';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { host: { type: 'string', default: '127.0.0.1' }, port: { type: 'string' }, root: { type: 'string' } } });
const port = Number(values.port);
if (!(Number.isInteger(port) && port > 0 && port < 65536) || !values.root) {
  process.stderr.write('usage: npm-tftp-server.mjs --host HOST --port PORT --root DIR\n');
  process.exit(2);
}
const tftp = createRequire(import.meta.url)('tftp');
const server = tftp.createServer({ host: values.host, port, root: values.root, denyPUT: true, blockSize: 65464, windowSize: 64 });
// Without these listeners node-tftp throws and the process dies on the first failed request.
server.on('error', (e) => process.stderr.write(`npm tftp server: ${e.message}\n`));
server.on('request', (req) => req.on('error', () => {}));
server.on('listening', () => process.stdout.write(`listening ${values.host}:${port}\n`));
server.listen();
for (const sig of ['SIGTERM', 'SIGINT']) process.once(sig, () => process.exit(0));
