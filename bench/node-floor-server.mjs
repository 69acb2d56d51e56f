// The node floor: the least a TFTP read server written on Node's `dgram` can do per block, as a
// reference row for the benchmark (bench/servers.ts, nodeFloorSpec; issue 13, docs/PERFORMANCE.md).
// Not a server to run: no path checks beyond the root, no limits, no logs, no records, no
// security, every file kept in memory once asked. What it keeps of TFTP is what every read server
// pays for on the wire: an RRQ on the listening port, a fresh port per transfer (RFC 1350 TIDs),
// the OACK (RFC 2347: blksize, tsize, windowsize, echoed as asked), one dgram send per DATA
// (header + a view of the file, no copy) and one 'message' callback per ACK, a 1 s resend timer.
// Where tftpfn's figure is close to this one, what is left is Node's event loop and the
// system calls, not tftpfn's own work.
//
//   node bench/node-floor-server.mjs --host 127.0.0.1 --port PORT --root ROOT
//
// Plain JavaScript, as bench/npm-tftp-server.mjs, so it runs from the source tree and from dist/.
// Prints `listening HOST:PORT` once bound; exits on SIGTERM/SIGINT.
import dgram from 'node:dgram';
import { readFileSync } from 'node:fs';
import { join, normalize } from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { host: { type: 'string', default: '127.0.0.1' }, port: { type: 'string' }, root: { type: 'string' } } });
const port = Number(values.port);
if (!(Number.isInteger(port) && port > 0 && port < 65536) || !values.root) {
  process.stderr.write('usage: node-floor-server.mjs --host HOST --port PORT --root DIR\n');
  process.exit(2);
}
const host = values.host;
const files = new Map();
// IP literals only: dgram would otherwise defer every send to a dns.lookup on the next tick.
const lookup = (address, _opts, cb) => cb(null, address, 4);

function fileBytes(name) {
  const rel = normalize(name).replace(/^(\.\.(\/|$))+/, '').replace(/^\/+/, '');
  let bytes = files.get(rel);
  if (!bytes) files.set(rel, (bytes = readFileSync(join(values.root, rel))));
  return bytes;
}

function errorPacket(code, text) {
  return Buffer.concat([Buffer.from([0, 5, 0, code]), Buffer.from(`${text}\0`, 'latin1')]);
}

function serve(request, peer) {
  const fields = request.subarray(2).toString('latin1').split('\0');
  const [filename] = fields;
  const asked = new Map();
  for (let i = 2; i + 1 < fields.length; i += 2) asked.set(fields[i].toLowerCase(), fields[i + 1]);
  const socket = dgram.createSocket({ type: 'udp4', lookup });
  socket.on('error', () => socket.close());
  socket.bind(0, host, () => {
    let file;
    try {
      file = fileBytes(filename);
    } catch {
      socket.send(errorPacket(1, 'file not found'), peer.port, peer.address, () => socket.close());
      return;
    }
    const blksize = asked.has('blksize') ? Math.min(65464, Math.max(8, Number(asked.get('blksize')))) : 512;
    const windowsize = asked.has('windowsize') ? Math.min(64, Math.max(1, Number(asked.get('windowsize')))) : 1;
    const blocks = Math.floor(file.length / blksize) + 1; // the last one short, possibly empty
    let acked = 0; // blocks acknowledged, as an absolute count (block numbers roll over at 65536)
    let timer;
    let retries = 0;
    const sendFrom = (first) => {
      const last = Math.min(blocks, first + windowsize - 1);
      for (let b = first; b <= last; b++) {
        const offset = (b - 1) * blksize;
        socket.send([Buffer.from([0, 3, (b >> 8) & 0xff, b & 0xff]), file.subarray(offset, Math.min(offset + blksize, file.length))], peer.port, peer.address);
      }
      clearTimeout(timer);
      timer = setTimeout(() => (++retries > 5 ? finish() : sendFrom(acked + 1)), 1000);
    };
    socket.on('message', (msg, rinfo) => {
      if (rinfo.port !== peer.port || msg.length < 4) return;
      if (msg[1] === 5) return finish(); // the client's ERROR ends the transfer
      if (msg[1] !== 4) return;
      const number = (msg[2] << 8) | msg[3];
      const absolute = acked + ((number - acked) & 0xffff); // at or after acked, modulo 2^16
      if (absolute > blocks) return;
      if (absolute === blocks) return finish();
      // RFC 7440: the ACK of a window's last block opens the next window; an earlier block's
      // (a loss) or a repeated one (the client's timeout) sends the window after it again.
      acked = absolute;
      retries = 0;
      sendFrom(acked + 1);
    });
    const finish = () => {
      clearTimeout(timer);
      socket.close();
    };
    const oack = [];
    if (asked.has('blksize')) oack.push('blksize', String(blksize));
    if (asked.has('tsize')) oack.push('tsize', String(file.length));
    if (asked.has('windowsize')) oack.push('windowsize', String(windowsize));
    if (oack.length > 0) {
      socket.send(Buffer.concat([Buffer.from([0, 6]), Buffer.from(`${oack.join('\0')}\0`, 'latin1')]), peer.port, peer.address);
      timer = setTimeout(finish, 5000); // no ACK 0: give up
    } else {
      sendFrom(1);
    }
  });
}

const listener = dgram.createSocket({ type: 'udp4', lookup });
listener.on('message', (msg, rinfo) => {
  if (msg.length > 4 && msg[0] === 0 && msg[1] === 1) serve(msg, { address: rinfo.address, port: rinfo.port });
});
listener.on('error', (e) => {
  process.stderr.write(`node floor: ${e.message}\n`);
  process.exit(1);
});
listener.bind(port, host, () => process.stdout.write(`listening ${host}:${port}\n`));
for (const sig of ['SIGTERM', 'SIGINT']) process.once(sig, () => process.exit(0));
