// Facts about the node the agent runs on: its IP (the address of the default route's interface
// unless configured), memory, CPUs and resolv.conf. Reads /proc and os; runs no commands.

import { readFile } from 'node:fs/promises';
import { availableParallelism, networkInterfaces, totalmem } from 'node:os';

/** The interface of the IPv4 default route, from /proc/net/route. */
export async function defaultRouteInterface(): Promise<string | undefined> {
  const text = await readFile('/proc/net/route', 'utf8').catch(() => '');
  for (const line of text.split('\n').slice(1)) {
    const [iface, destination, , , , , , mask] = line.trim().split(/\s+/);
    if (destination === '00000000' && mask === '00000000') return iface;
  }
  return undefined;
}

/** The node IP: the first IPv4 address of the default route's interface, else of any interface, else loopback. */
export async function detectNodeIp(): Promise<string> {
  const ifaces = networkInterfaces();
  const v4 = (name: string): string | undefined => ifaces[name]?.find((a) => a.family === 'IPv4' && !a.internal)?.address;
  const iface = await defaultRouteInterface();
  if (iface !== undefined) {
    const ip = v4(iface);
    if (ip !== undefined) return ip;
  }
  for (const name of Object.keys(ifaces)) {
    const ip = v4(name);
    if (ip !== undefined) return ip;
  }
  return '127.0.0.1';
}

export function nodeMemoryBytes(): number {
  return totalmem();
}

export function nodeCpuMilli(): number {
  return availableParallelism() * 1000;
}

export async function readResolvConf(path: string): Promise<string> {
  return readFile(path, 'utf8').catch(() => '');
}
