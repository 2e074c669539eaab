/**
 * dist/spawner.js: the small process a broker starts its subprocesses from.
 *
 * Why: fork(2) copies the parent's page tables, so spawning costs time in
 * proportion to the spawner's memory. A rank 0 broker holding the KVS cache
 * and a thousand jobs (≈250 MiB) spent 10-30 ms of its main thread in every
 * spawn(), more than all the rest of running a job; this process stays at
 * Node's baseline, spawns in ≈2 ms, and does it beside the broker rather than
 * inside its event loop. The broker (spawner.ts) talks to it over the IPC
 * channel with Node's structured-clone serialization (Buffers travel as they
 * are); the protocol is spawner-protocol.ts.
 *
 * It keeps no state beyond the children in flight and exits when the broker's
 * channel closes (the children live in sessions of their own: the broker's
 * reaper, not this process, decides their fate).
 */
import type { ChildProcess } from 'node:child_process';
import { spawnTask, type FromSpawner, type ToSpawner } from './spawner-protocol';

const children = new Map<number, ChildProcess>();

function send(m: FromSpawner): void {
  // the broker may be gone (EPIPE): nothing to tell then, and 'disconnect' ends this process
  if (process.connected) process.send!(m, undefined, {}, () => {});
}

function start(m: Extract<ToSpawner, { t: 'spawn' }>): void {
  let child: ChildProcess;
  try {
    child = spawnTask(m);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    send({ t: 'error', id: m.id, code: String(err.code ?? ''), message: err.message, sync: true });
    return;
  }
  children.set(m.id, child);
  child.stdin?.on('error', () => {
    // EPIPE: the process closed its stdin or exited; what was in flight is lost, as in flux-core.
  });
  const wire = (s: 1 | 2, stream: NodeJS.ReadableStream | null): void => {
    if (!stream) return;
    stream.on('data', (data: Buffer) => send({ t: 'data', id: m.id, s, data }));
    stream.on('end', () => send({ t: 'eof', id: m.id, s }));
    stream.on('error', () => {});
  };
  child.once('spawn', () => {
    send({ t: 'spawned', id: m.id, pid: child.pid ?? -1 });
    wire(1, child.stdout);
    wire(2, child.stderr);
  });
  child.once('error', (e: NodeJS.ErrnoException) => {
    if (child.pid !== undefined) return;
    children.delete(m.id);
    send({ t: 'error', id: m.id, code: String(e.code ?? ''), message: e.message, sync: false });
  });
  child.once('exit', (code, signal) => {
    send({ t: 'exit', id: m.id, code, signal });
  });
  child.once('close', () => children.delete(m.id));
}

process.on('message', (m: ToSpawner) => {
  switch (m.t) {
    case 'spawn':
      start(m);
      break;
    case 'write': {
      const w = children.get(m.id)?.stdin;
      if (!w || w.destroyed) break;
      const n = m.data.length;
      w.write(m.data, (err) => {
        if (!err) send({ t: 'credit', id: m.id, n });
      });
      break;
    }
    case 'end':
      children.get(m.id)?.stdin?.end();
      break;
    default:
      break;
  }
});
// The broker went away: nothing left to serve.
process.on('disconnect', () => process.exit(0));
