/**
 * `flux startlog [--check] [--quiet] [-v]`: the instance's start/finish history
 * from `admin.eventlog` (`2026-11-24 23:50 - 2026-11-24 23:51 (19s)`, `crashed`,
 * `running (3.2m)`); `--check` exits 1 if the last run crashed. The hidden
 * `--post-start-event` / `--post-finish-event` are what rc1/rc3 use.
 */
import { Optparse, has } from '../common/liboptparse/optparse';
import { parseEventlog, postStartlogEvent, readStartlog, startlogListing } from '../common/libkvs/startlog';
import { Exit, die, errText, open, out, parseOrExit, usageExit } from './cli';

const PROG = 'flux-startlog';

const OPTIONS = new Optparse(PROG, [
  { name: 'check', usage: 'Check if instance was properly shut down' },
  { name: 'quiet', usage: 'Suppress listing, useful with --check' },
  { name: 'show-version', key: 'v', usage: 'Show the flux-core version string in output' },
  { name: 'post-start-event', usage: 'Post start event to eventlog (for rc use only)', hidden: true },
  { name: 'post-finish-event', usage: 'Post finish event to eventlog (for rc use only)', hidden: true },
], '[OPTIONS]', 25, 'List Flux instance startlog');

export async function startlog(argv: string[]): Promise<void> {
  const o = parseOrExit(OPTIONS, argv);
  if (o.args.length > 0) usageExit(OPTIONS);
  const h = await open(PROG);
  try {
    const post = has(o, 'post-start-event') ? 'start' : has(o, 'post-finish-event') ? 'finish' : undefined;
    if (post) {
      if (Number(await h.getattr('rank')) !== 0) die(PROG, 'Startlog events may only be posted from rank 0');
      try {
        await postStartlogEvent(async (topic, payload) => h.rpc(topic, payload).get<Record<string, unknown>>(), post);
      } catch (e) {
        die(PROG, `Error commiting ${post} event: ${errText(e)}`);
      }
      return;
    }
    let text: string;
    try {
      text = await readStartlog(h);
    } catch (e) {
      die(PROG, `Error fetching eventlog: ${errText(e)}`);
    }
    const { lines, crashed } = startlogListing(parseEventlog(text), Date.now() / 1000, has(o, 'show-version'));
    if (!has(o, 'quiet')) for (const l of lines) out.write(`${l}\n`);
    if (has(o, 'check') && crashed) throw new Exit(1);
  } finally {
    h.close();
  }
}
