/** What the report says about the machine it ran on. */
import { readFileSync } from 'node:fs';
import os from 'node:os';

export function machineInfo(): Record<string, string> {
  let cpu = os.cpus()[0]?.model ?? 'unknown';
  try {
    cpu = /model name\s*:\s*(.+)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? cpu;
  } catch {
    // not Linux
  }
  let loMtu = 'unknown';
  try {
    loMtu = readFileSync('/sys/class/net/lo/mtu', 'utf8').trim();
  } catch {
    // no sysfs
  }
  const sysctl = (name: string) => {
    try {
      return readFileSync(`/proc/sys/net/core/${name}`, 'utf8').trim();
    } catch {
      return 'unknown';
    }
  };
  return {
    CPU: cpu,
    cores: String(os.availableParallelism?.() ?? os.cpus().length),
    memory: `${(os.totalmem() / (1 << 30)).toFixed(1)} GiB`,
    kernel: `${os.type()} ${os.release()}`,
    'loopback MTU': loMtu,
    'net.core.rmem_max / rmem_default': `${sysctl('rmem_max')} / ${sysctl('rmem_default')}`,
  };
}
