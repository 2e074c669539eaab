/**
 * The instance's start log, `admin.eventlog` in the KVS (flux-core's
 * startlog): rc1 appends `start {"version":1,"core_version":V}` once the KVS
 * is up and makes it durable (content flush + KVS checkpoint), rc3 appends
 * `finish {"version":1}`. A start with no finish before the next start is a
 * crash, which `flux startlog --check` reports.
 */
import type { Flux } from '../libflux/handle';
import { FLUX_VERSION } from '../libflux/version';
import { formatFsd } from '../libutil/fsd';
import { janssonDumps, JsonReal, type JsonValue } from './jansson';
import { KvsTxn } from './txn';

export const STARTLOG_KEY = 'admin.eventlog';
export const STARTLOG_VERSION = 1;

/** One eventlog line as flux-core encodes it (compact JSON, timestamp a real). */
export function eventlogEntry(name: string, context: Record<string, unknown>, now = Date.now() / 1000): string {
  return `${janssonDumps({ timestamp: new JsonReal(now), name, context: context as { [key: string]: JsonValue } }, { compact: true })}\n`;
}

/** Append a startlog event on rank 0; `durable` flushes the content store and checkpoints the KVS. */
export async function postStartlogEvent(call: (topic: string, payload: Record<string, unknown>) => Promise<Record<string, unknown>>, name: 'start' | 'finish'): Promise<void> {
  const context: Record<string, unknown> = name === 'start'
    ? { version: STARTLOG_VERSION, core_version: FLUX_VERSION }
    : { version: STARTLOG_VERSION };
  const txn = new KvsTxn().append(STARTLOG_KEY, eventlogEntry(name, context));
  await call('kvs.commit', { namespace: 'primary', flags: 0, ops: txn.toOps() });
  if (name === 'start') {
    await call('content.flush', {});
    await call('kvs.checkpoint', {});
  }
}

export interface StartlogEvent {
  timestamp: number;
  name: string;
  context: Record<string, unknown>;
}

export function parseEventlog(text: string): StartlogEvent[] {
  const out: StartlogEvent[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    try {
      const e = JSON.parse(line) as Partial<StartlogEvent>;
      if (typeof e.timestamp === 'number' && typeof e.name === 'string' && typeof e.context === 'object' && e.context !== null) {
        out.push(e as StartlogEvent);
      }
    } catch {
      // a line that is not an event is tolerated, as flux-core does
    }
  }
  return out;
}

/** `%F %R` in local time. */
function formatTime(t: number): string {
  const d = new Date(t * 1000);
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}`;
}

/** The listing `flux startlog` prints, and whether the last run crashed. */
export function startlogListing(events: StartlogEvent[], now: number, showVersion: boolean): { lines: string[]; crashed: boolean } {
  const lines: string[] = [];
  let cur = '';
  let started = false;
  let crashed = false;
  let last = 0;
  for (const e of events) {
    const version = e.context.version;
    if (typeof version !== 'number' || version < 0 || version > STARTLOG_VERSION) continue;
    if (e.name === 'start') {
      if (started) {
        lines.push(`${cur}crashed`);
        crashed = true;
      }
      const v = showVersion ? `${String(e.context.core_version ?? '').padStart(25)}  ` : '';
      cur = `${v}${formatTime(e.timestamp)} - `;
      started = true;
    } else if (e.name === 'finish') {
      if (started) {
        lines.push(`${cur}${formatTime(e.timestamp)} (${formatFsd(e.timestamp - last, 2)})`);
        crashed = false;
      }
      started = false;
    }
    last = e.timestamp;
  }
  if (started) lines.push(`${cur}running (${formatFsd(now - last, 2)})`);
  return { lines, crashed };
}

export async function readStartlog(h: Flux): Promise<string> {
  const { lookup } = await import('./client.js');
  return (await lookup(h, STARTLOG_KEY)).string();
}
