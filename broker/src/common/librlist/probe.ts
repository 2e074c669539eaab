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
  /** Memory of each NUMA node in whole GiB, with the socket of its first CPU (one pool when /sys says nothing). */
  memory: { numa: number; gb: number; socket?: number }[];
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

/** MemTotal of each NUMA node (GiB, rounded down) and the socket its CPUs belong to; the machine's total as one pool without NUMA information. */
async function numaMemory(numa: number[], socketOfCpu: Map<number, number>): Promise<MachineTopology['memory']> {
  const out: MachineTopology['memory'] = [];
  for (const n of numa) {
    const info = await readText(`/sys/devices/system/node/node${n}/meminfo`);
    const kb = info && /MemTotal:\s+(\d+) kB/.exec(info);
    if (!kb) continue;
    let socket: number | undefined;
    const cpulist = await readText(`/sys/devices/system/node/node${n}/cpulist`);
    try {
      const first = cpulist ? decodeIdset(cpulist).find((c) => socketOfCpu.has(c)) : undefined;
      if (first !== undefined) socket = socketOfCpu.get(first);
    } catch {
      // an unreadable cpulist: the memory hangs from the node
    }
    out.push({ numa: n, gb: Math.floor(Number(kb[1]) / 2 ** 20), ...(socket !== undefined ? { socket } : {}) });
  }
  return out.length > 0 ? out : [{ numa: 0, gb: Math.floor(os.totalmem() / 2 ** 30) }];
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
      numa.sort((a, b) => a - b);
      const socketOfCpu = new Map<number, number>();
      for (const c of byCore.values()) for (const cpu of c.cpus) socketOfCpu.set(cpu, c.socket);
      return {
        hostname,
        cores: ordered.map((c, index) => ({ index, socket: c.socket, cpus: c.cpus })),
        sockets: [...new Set(ordered.map((c) => c.socket))].sort((a, b) => a - b),
        numaNodes: numa,
        memory: await numaMemory(numa, socketOfCpu),
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
    memory: [{ numa: 0, gb: Math.floor(os.totalmem() / 2 ** 30) }],
    gpus,
    source: 'os.cpus',
  };
}
