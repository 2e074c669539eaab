/**
 * What this machine has, as flux-core's hwloc discovery reports it for R:
 * cores (physical cores, not hardware threads, limited to the CPUs this
 * process may run on), sockets and NUMA nodes (kept for the Fluxion resource
 * graph), and GPUs. Read from /sys and /proc; where they are missing (not
 * Linux, a locked-down container) it falls back to one core per CPU that
 * Node reports, and says so in `source`.
 */
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import { decodeIdset } from '../libidset/idset';

export interface CoreInfo {
  /** Logical index (0..n-1) as hwloc numbers cores. */
  index: number;
  socket: number;
  /** CPUs (hardware threads) of this core. */
  cpus: number[];
}

export interface MachineTopology {
  hostname: string;
  cores: CoreInfo[];
  sockets: number[];
  numaNodes: number[];
  gpus: number;
  source: 'sysfs' | 'os.cpus';
}

async function readText(p: string): Promise<string | undefined> {
  try {
    return (await fs.readFile(p, 'utf8')).trim();
  } catch {
    return undefined;
  }
}

/** CPUs this process may use (cgroup cpuset / affinity), from /proc/self/status. */
async function allowedCpus(): Promise<Set<number> | undefined> {
  const status = await readText('/proc/self/status');
  const m = status && /^Cpus_allowed_list:\s*(\S+)$/m.exec(status);
  if (!m) return undefined;
  try {
    return new Set(decodeIdset(m[1]));
  } catch {
    return undefined;
  }
}

async function countGpus(): Promise<number> {
  let n = 0;
  try {
    n += (await fs.readdir('/proc/driver/nvidia/gpus')).length;
  } catch {
    // no NVIDIA driver
  }
  try {
    for (const node of await fs.readdir('/sys/class/kfd/kfd/topology/nodes')) {
      const id = await readText(`/sys/class/kfd/kfd/topology/nodes/${node}/gpu_id`);
      if (id !== undefined && id !== '0') n++;
    }
  } catch {
    // no AMD kfd
  }
  return n;
}

export async function probeMachine(): Promise<MachineTopology> {
  const hostname = os.hostname();
  const gpus = await countGpus();
  const online = await readText('/sys/devices/system/cpu/online');
  const allowed = await allowedCpus();
  if (online !== undefined) {
    let cpus: number[];
    try {
      cpus = decodeIdset(online);
    } catch {
      cpus = [];
    }
    if (allowed) cpus = cpus.filter((c) => allowed.has(c));
    const byCore = new Map<string, { socket: number; core: number; cpus: number[] }>();
    for (const cpu of cpus) {
      const base = `/sys/devices/system/cpu/cpu${cpu}/topology`;
      const socket = Number((await readText(`${base}/physical_package_id`)) ?? 0);
      const core = Number((await readText(`${base}/core_id`)) ?? cpu);
      const key = `${socket}:${core}`;
      const e = byCore.get(key);
      if (e) e.cpus.push(cpu);
      else byCore.set(key, { socket, core, cpus: [cpu] });
    }
    if (byCore.size > 0) {
      const ordered = [...byCore.values()].sort((a, b) => a.socket - b.socket || a.core - b.core);
      const numa: number[] = [];
      try {
        for (const d of await fs.readdir('/sys/devices/system/node')) {
          const m = /^node(\d+)$/.exec(d);
          if (m) numa.push(Number(m[1]));
        }
      } catch {
        // no NUMA information
      }
      return {
        hostname,
        cores: ordered.map((c, index) => ({ index, socket: c.socket, cpus: c.cpus })),
        sockets: [...new Set(ordered.map((c) => c.socket))].sort((a, b) => a - b),
        numaNodes: numa.sort((a, b) => a - b),
        gpus,
        source: 'sysfs',
      };
    }
  }
  const n = Math.max(1, os.cpus().length);
  return {
    hostname,
    cores: [...Array(n).keys()].map((index) => ({ index, socket: 0, cpus: [index] })),
    sockets: [0],
    numaNodes: [],
    gpus,
    source: 'os.cpus',
  };
}
