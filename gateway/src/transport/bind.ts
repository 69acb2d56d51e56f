/**
 * Socket plumbing: which local addresses to listen on, and binding UDP sockets to them.
 *
 * Node has no IP_PKTINFO, so a socket bound to a wildcard address cannot choose the source
 * address of its replies, and NIC firmware drops replies from an address other than the one
 * it asked. A wildcard host is therefore expanded into one listener per interface address,
 * and each session socket binds to the address its request arrived on.
 */
import dgram from 'node:dgram';
import { networkInterfaces } from 'node:os';
import { isIP } from 'node:net';

export interface ListenAddress {
  address: string;
  family: 'IPv4' | 'IPv6';
}

export function expandHosts(hosts: readonly string[]): ListenAddress[] {
  const out: ListenAddress[] = [];
  const seen = new Set<string>();
  const add = (address: string, family: 'IPv4' | 'IPv6') => {
    if (seen.has(address)) return;
    seen.add(address);
    out.push({ address, family });
  };
  const ifaces = Object.entries(networkInterfaces());
  for (const host of hosts) {
    if (host === '0.0.0.0' || host === '::') {
      const family = host === '::' ? 'IPv6' : 'IPv4';
      for (const [name, addrs] of ifaces) {
        for (const a of addrs ?? []) {
          if (a.family !== family) continue;
          // Link-local IPv6 needs its scope to bind and to reply.
          add(a.family === 'IPv6' && a.address.toLowerCase().startsWith('fe80:') ? `${a.address}%${name}` : a.address, family);
        }
      }
    } else {
      const fam = isIP(host.split('%')[0]);
      if (fam === 0) throw new Error(`host "${host}" is not an IP address: give addresses such as 127.0.0.1, ::1, 0.0.0.0 or ::`);
      add(host, fam === 6 ? 'IPv6' : 'IPv4');
    }
  }
  return out;
}

/**
 * We only ever send to IP literals taken from rinfo. dgram's default lookup goes through
 * dns.lookup, which defers every send by a tick; answering synchronously keeps send() on the
 * fast path (a measurable share of per-packet cost in lock-step transfers).
 */
export function literalLookup(
  address: string,
  _opts: unknown,
  cb: (err: NodeJS.ErrnoException | null, address: string, family: number) => void,
): void {
  // Every send of a session goes to one address: the last answer is kept, which saves a split
  // and isIP's regular expression per datagram (~1% of a 1 KiB transfer's CPU, issue 13).
  if (address === lastLiteral) {
    cb(null, address, lastFamily);
    return;
  }
  const fam = isIP(address.split('%')[0]);
  if (fam === 0) {
    cb(Object.assign(new Error(`not an IP literal: ${address}`), { code: 'EINVAL' }), address, 4);
    return;
  }
  lastLiteral = address;
  lastFamily = fam;
  cb(null, address, fam);
}
let lastLiteral = '';
let lastFamily = 0;

export interface BindOptions {
  address: string;
  family: 'IPv4' | 'IPv6';
  port: number;
  /** false: share with cluster siblings (the listening socket); true: this process only. */
  exclusive: boolean;
  bufferBytes: number;
  /** SO_REUSEPORT: sibling processes bind the same port, each its own socket (see listenSharing). */
  reusePort?: boolean;
}

/**
 * Whether dgram has `reusePort` (SO_REUSEPORT): Node 22.12+ / 23.1+, on the platforms whose
 * kernel spreads datagrams over the sockets of a group (Linux 3.9+, FreeBSD 12+, DragonFly).
 * Node 20 ignores the option silently, so the version is the test, not a bind.
 */
export function reusePortAvailable(nodeVersion: string = process.versions.node, platform: string = process.platform): boolean {
  if (platform !== 'linux' && platform !== 'freebsd' && platform !== 'dragonfly') return false;
  const [major, minor] = nodeVersion.split('.').map(Number);
  return major > 23 || (major === 23 && minor >= 1) || (major === 22 && minor >= 12);
}

/**
 * How N gateway processes (serve --processes) share the listening port:
 * - 'reusePort': each process binds its own socket with SO_REUSEPORT; the kernel hashes a
 *   client's address and port to one socket, so every datagram of a client reaches the same
 *   process (what single-port mode needs: the ACKs of a session go where the session is).
 * - 'clusterShared': Node 20. The cluster primary owns one socket and every process reads
 *   from it, so any datagram may reach any process (single-port mode is refused there).
 * - 'single': one process.
 */
export type ListenSharing = 'reusePort' | 'clusterShared' | 'single';

export function listenSharing(processes: number, reusePort: boolean = reusePortAvailable()): ListenSharing {
  if (processes <= 1) return 'single';
  return reusePort ? 'reusePort' : 'clusterShared';
}

/** A listening bind failure as one line naming the address, the port and the fix. */
export function listenError(address: string, port: number, e: unknown): Error {
  const code = (e as NodeJS.ErrnoException).code;
  const hint =
    code === 'EACCES' ? 'ports below 1024 need root or CAP_NET_BIND_SERVICE; use e.g. --port 6969'
    : code === 'EADDRINUSE' ? 'another server is listening there; stop it or pick another --port'
    : code === 'EADDRNOTAVAIL' ? 'that address is not on this machine; see `ip addr`'
    : 'check --host and --port';
  return new Error(`cannot listen on ${address} port ${port}: ${(e as Error).message} (${hint})`);
}

/**
 * Before N processes bind with SO_REUSEPORT, the primary binds the port plainly on every
 * address and lets go: SO_REUSEPORT would let the processes join a port another server (or
 * another tftpfn of this user) already holds and take part of its traffic, and with port 0 the
 * processes must all follow one port. Returns the port (port 0: the one the kernel picked).
 */
export async function reserveListenPort(hosts: readonly string[], port: number): Promise<number> {
  const addrs = expandHosts(hosts);
  if (addrs.length === 0) throw new Error('no local address matches the configured hosts');
  const held: dgram.Socket[] = [];
  try {
    for (const a of addrs) {
      try {
        const socket = await bindUdp({ address: a.address, family: a.family, port, exclusive: true, bufferBytes: 0 });
        held.push(socket);
        if (port === 0) port = socket.address().port;
      } catch (e) {
        throw listenError(a.address, port, e);
      }
    }
    return port;
  } finally {
    for (const s of held) s.close();
  }
}

/** Binds a UDP socket; rejects with the bind's error. */
export async function bindUdp(opts: BindOptions): Promise<dgram.Socket> {
  return bindUdpSoon(opts);
}

/**
 * Binds a UDP socket, synchronously where dgram does: with an IP literal and literalLookup,
 * Node binds and emits 'listening' (or 'error') inside bind() itself, so the bound socket is
 * returned at once (or the error thrown) and a new session costs no promise and no microtask
 * hop (issue 13, docs/PERFORMANCE.md "A cached file starts in the tick of its request").
 * Where the bind does not finish inside the call (another Node, a cluster worker's shared
 * bind), a promise of the socket.
 *
 * No closure per bind: 'listening' goes to one shared function that names the socket it came
 * from, and no 'error' listener is attached for the call, so a failed bind's emit('error')
 * throws out of bind() (EventEmitter throws an error nobody listens for) and is caught here.
 */
export function bindUdpSoon(opts: BindOptions): dgram.Socket | Promise<dgram.Socket> {
  const socket = dgram.createSocket({
    type: opts.family === 'IPv6' ? 'udp6' : 'udp4',
    ipv6Only: opts.family === 'IPv6',
    lookup: literalLookup,
    // Not in Node 20's types; only set where reusePortAvailable() (Node 20 would ignore it).
    ...(opts.reusePort ? { reusePort: true } : {}),
  } as dgram.SocketOptions);
  socket.on('listening', markListening);
  try {
    socket.bind({ address: opts.address, port: opts.port, exclusive: opts.exclusive });
  } catch (e) {
    socket.close();
    throw e;
  }
  socket.off('listening', markListening);
  if (lastListening === socket) {
    lastListening = undefined;
    if (opts.bufferBytes > 0) setBufferSizes(socket, opts.bufferBytes);
    return socket;
  }
  return new Promise((resolve, reject) => {
    const onError = (e: Error) => {
      socket.close();
      reject(e);
    };
    socket.once('error', onError);
    socket.once('listening', () => {
      socket.off('error', onError);
      if (opts.bufferBytes > 0) setBufferSizes(socket, opts.bufferBytes);
      resolve(socket);
    });
  });
}

/** The socket whose 'listening' was emitted last (inside bindUdpSoon's bind call). */
let lastListening: dgram.Socket | undefined;
function markListening(this: dgram.Socket): void {
  lastListening = this;
}

/** The kernel caps these at net.core.{r,w}mem_max; a window of large blocks needs room. */
function setBufferSizes(socket: dgram.Socket, bytes: number): void {
  try {
    socket.setRecvBufferSize(bytes);
    socket.setSendBufferSize(bytes);
  } catch {
    /* best effort */
  }
}

/**
 * Binds an ephemeral session socket, from a port range when one is configured: the socket at
 * once when the bind finished inside the call (bindUdpSoon), else a promise; a failure to bind
 * is thrown, or rejects.
 */
export function bindSessionSocket(
  address: string,
  family: 'IPv4' | 'IPv6',
  range: { low: number; high: number } | undefined,
  bufferBytes: number,
): dgram.Socket | Promise<dgram.Socket> {
  // Every request without a portRange comes here: no async frame, and usually no promise.
  if (!range) return bindUdpSoon({ address, family, port: 0, exclusive: true, bufferBytes });
  return bindInRange(address, family, range, bufferBytes);
}

async function bindInRange(address: string, family: 'IPv4' | 'IPv6', range: { low: number; high: number }, bufferBytes: number): Promise<dgram.Socket> {
  const span = range.high - range.low + 1;
  const start = Math.floor(Math.random() * span);
  // Bounded: try each port of the range at most once, starting at a random offset.
  for (let i = 0; i < span; i++) {
    const port = range.low + ((start + i) % span);
    try {
      return await bindUdp({ address, family, port, exclusive: true, bufferBytes });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw e;
    }
  }
  throw new Error('no free port in the session port range');
}
