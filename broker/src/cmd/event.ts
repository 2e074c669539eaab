/**
 * `flux event pub [-r] [-p] [-s] TOPIC [PAYLOAD...]` and `flux event sub [-c N] [TOPIC...]`.
 * A plain `pub` sends the event message itself and expects no reply, as flux-core's
 * does; `--synchronous` goes through `event.publish` and prints the sequence number.
 */
import { FLAG_PRIVATE, FLAG_ROUTE, MSGTYPE_EVENT, newMessage, setRaw, setString } from '../common/libflux/message';
import { Optparse, has, last } from '../common/liboptparse/optparse';
import { Exit, die, errText, errln, open, out, parseOrExit } from './cli';

const PUB = new Optparse('flux-event pub', [
  { name: 'raw', key: 'r', usage: 'Interpret event payload as raw.' },
  { name: 'private', key: 'p', usage: 'Publish as a private event (visible to the instance owner and the publisher)' },
  { name: 'synchronous', key: 's', usage: 'Wait until the event is published and print its sequence number' },
], '[OPTIONS] topic [payload]');

const SUB = new Optparse('flux-event sub', [
  { name: 'count', key: 'c', hasArg: 1, arginfo: 'N', usage: 'Process N events then exit' },
], '[OPTIONS] [topic...]');

async function pub(argv: string[]): Promise<void> {
  const o = parseOrExit(PUB, argv);
  if (o.args.length === 0) {
    process.stderr.write(PUB.usage());
    throw new Exit(1);
  }
  const [topic, ...rest] = o.args;
  const text = rest.length > 0 ? rest.join(' ') : undefined;
  const flags = has(o, 'private') ? FLAG_PRIVATE : 0;
  const h = await open('flux-event');
  try {
    if (has(o, 'synchronous')) {
      let payload: Buffer | undefined;
      if (text !== undefined) payload = has(o, 'raw') ? Buffer.from(text) : Buffer.from(text + '\0');
      const seq = await h.publish(topic, payload, flags);
      out.write(`seq=${seq}\n`);
      return;
    }
    const m = newMessage(MSGTYPE_EVENT, topic);
    m.flags |= FLAG_ROUTE | flags;
    if (text !== undefined) {
      if (has(o, 'raw')) setRaw(m, Buffer.from(text));
      else setString(m, text);
    }
    h.send(m);
  } catch (e) {
    die('flux-event', errText(e));
  } finally {
    h.close();
  }
}

async function sub(argv: string[]): Promise<void> {
  const o = parseOrExit(SUB, argv);
  const countText = last(o, 'count') ?? '0';
  const count = Number(countText);
  if (!/^\d+$/.test(countText)) die('flux-event', `option '--count' requires an integer argument`);
  const topics = o.args.length > 0 ? o.args : [''];
  const h = await open('flux-event');
  let seen = 0;
  let finish: () => void = () => {};
  const done = new Promise<void>((res) => (finish = res));
  h.onEvent((m) => {
    if (count > 0 && seen >= count) return;
    let payload = '';
    if (m.payload && m.payload.length > 0) {
      const p = m.payload[m.payload.length - 1] === 0 ? m.payload.subarray(0, -1) : m.payload;
      payload = p.toString('utf8');
    }
    // Line-buffered even into a pipe: each event is visible as it arrives.
    process.stdout.write(`${m.topic ?? ''}\t${payload}\n`);
    if (count > 0 && ++seen === count) finish();
  });
  h.onDisconnect(() => finish());
  try {
    h.ref();
    for (const t of topics) await h.subscribe(t);
    await done;
    if (!h.isClosed) for (const t of topics) await h.unsubscribe(t);
  } catch (e) {
    die('flux-event', `flux_event_subscribe: ${errText(e)}`);
  } finally {
    h.close();
  }
}

export async function event(argv: string[]): Promise<void> {
  const [sub_, ...rest] = argv;
  if (sub_ === 'pub') return pub(rest);
  if (sub_ === 'sub') return sub(rest);
  if (sub_ === undefined || sub_ === '-h' || sub_ === '--help') {
    out.write('Usage: flux-event [OPTIONS] COMMAND ARGS\n  -h, --help             Display this message.\n\nCommon commands from flux-event:\n   pub             [OPTIONS] topic [payload]\n   sub             [OPTIONS] [topic...]\n');
    if (sub_ === undefined) throw new Exit(1);
    return;
  }
  errln(`flux-event: Unknown subcommand: ${sub_}`);
  throw new Exit(1);
}
