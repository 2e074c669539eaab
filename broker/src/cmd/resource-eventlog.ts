/**
 * `flux resource eventlog [-f text|json] [-H] [-L[WHEN]] [-F] [-w EVENT]`: the
 * resource module's journal (`resource.journal`): events of earlier runs kept
 * in resource.eventlog (drain, undrain) and those of this run (online,
 * offline, resource-define...), then, with -F, new ones as they come; -w
 * stops after EVENT. Lines as flux-core's EventLogFormatter prints them
 * (`1732500000.123456 drain idset="1" ...`, `-H` relative times).
 */
import { FLAG_STREAMING } from '../common/libflux/message';
import { getJson } from '../common/libflux/message';
import { Optparse, has, last } from '../common/liboptparse/optparse';
import type { JsonValue } from '../common/libkvs/jansson';
import { Exit, errln, open, out, parseOrExit } from './cli';
import { EventlogFormatter } from './kvs-format';
import { COLOR_OPTION } from './resource-drain';
import { PROG } from './resource-status';

export async function eventlogCmd(argv: string[]): Promise<void> {
  const p = new Optparse(`${PROG} eventlog`, [
    { name: 'format', key: 'f', hasArg: 1, arginfo: 'FORMAT', usage: 'Specify output format: text, json' },
    { name: 'time-format', key: 'T', hasArg: 1, arginfo: 'FORMAT', usage: 'Specify time format: raw, iso, offset, human' },
    { name: 'human', key: 'H', usage: 'Display human-readable output.' },
    COLOR_OPTION,
    { name: 'follow', key: 'F', usage: 'Display new events as they are posted' },
    { name: 'wait', key: 'w', hasArg: 1, arginfo: 'EVENT', usage: 'Display events until EVENT is posted' },
  ]);
  const o = parseOrExit(p, argv);
  const format = last(o, 'format') ?? 'text';
  if (format !== 'text' && format !== 'json') {
    errln(`${PROG}: ERROR: argument -f/--format: invalid choice: '${format}' (choose from 'text', 'json')`);
    throw new Exit(2);
  }
  const tf = has(o, 'human') ? 'human' : last(o, 'time-format') ?? 'raw';
  if (tf !== 'raw' && tf !== 'human') {
    errln(`${PROG}: ERROR: time format ${tf} is not supported here (raw, human)`);
    throw new Exit(1);
  }
  const when = last(o, 'color');
  const color = when === '' || when === 'always' || ((when === undefined || when === 'auto') && process.stdout.isTTY === true);
  const fmt = new EventlogFormatter({ unformatted: format === 'json', human: tf === 'human', color: format === 'text' && color });
  const follow = has(o, 'follow');
  const wait = last(o, 'wait');
  const h = await open(PROG);
  try {
    const rpc = h.rpc('resource.journal', {}, { nodeid: 0, flags: FLAG_STREAMING });
    for await (const m of rpc) {
      const { events } = getJson<{ events?: Record<string, JsonValue>[] }>(m);
      if (!Array.isArray(events) || events.length === 0) {
        // caught up with the backlog
        if (!follow && wait === undefined) break;
        continue;
      }
      for (const e of events) {
        const name = String(e.name);
        out.write(fmt.format({ timestamp: Number(e.timestamp), name, context: (e.context ?? {}) as Record<string, JsonValue>, raw: e }));
        if (wait !== undefined && name === wait) return;
      }
    }
  } catch (e) {
    errln(`${PROG}: ERROR: ${e instanceof Error ? e.message : String(e)}`);
    throw new Exit(1);
  } finally {
    h.close();
  }
}
