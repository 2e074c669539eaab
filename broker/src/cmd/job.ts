/**
 * `flux job info|eventlog|wait-event|attach|id|kill|urgency|wait|cancel|raise`:
 * flux-job(1)'s housekeeping commands, over the KVS (job.<id>.*) and
 * job-manager.
 */
import { formatJobspec } from '../common/libjob/jobspec';
import { jsonPathKey, parseJson, stringifyJson } from '../common/libjob/json';
import { JOBID_ENCODINGS, encodeJobId, type JobId } from '../common/libjob/jobid';
import { idJson, jsonPayload, payloadJson } from '../common/libjob/rpc-json';
import { unwrapSigned } from '../common/libjob/sign';
import { formatEventText, parseEventlog, waitStatusExitCode } from '../common/libjob/states';
import { Optparse, has, last } from '../common/liboptparse/optparse';
import { Exit, die, open, out, parseOrExit, usageExit } from './cli';
import { attachJob, errMsg, followEventlog, jobIdArg, lookupJobKey } from './job-common';
import { forwardStdin } from './job-stdin';
import { isIdset } from '../common/libidset/idset';

const PROG = 'flux-job';

/** R's times are reals (`"expiration": 0.0`), as Python prints what jansson wrote. */
const R_FLOATS = new Set([jsonPathKey(['execution', 'starttime']), jsonPathKey(['execution', 'expiration'])]);

const SIGNALS: Record<string, number> = {
  HUP: 1, INT: 2, QUIT: 3, KILL: 9, USR1: 10, SEGV: 11, USR2: 12, PIPE: 13, ALRM: 14, TERM: 15, CONT: 18, STOP: 19,
};

function usage(): never {
  process.stderr.write([
    'Usage: flux-job [OPTIONS] COMMAND ARGS',
    '  -h, --help             Display this message.',
    '',
    'Common commands from flux-job:',
    '   attach          Interactively attach to job',
    '   cancel          Cancel a job',
    '   eventlog        Display eventlog for a job',
    '   id              Convert jobid(s) to another form',
    '   info            Display info for a job',
    '   kill            Send signal to running job',
    '   raise           Raise exception for job',
    '   status          Wait for job(s) to complete and exit with largest exit code',
    '   urgency         Set job urgency (0-31, HOLD, EXPEDITE, DEFAULT)',
    '   wait            Wait for job to complete.',
    '   wait-event      Wait for an event',
    '',
  ].join('\n'));
  throw new Exit(1);
}

function oneId(p: Optparse, args: string[]): JobId {
  if (args.length < 1) usageExit(p);
  try {
    return jobIdArg(PROG, args[0]);
  } catch (e) {
    die(PROG, errMsg(e).replace(`${PROG}: `, ''));
  }
}

async function withHandle<T>(fn: (h: Awaited<ReturnType<typeof open>>) => Promise<T>): Promise<T> {
  const h = await open(PROG);
  try {
    return await fn(h);
  } finally {
    h.close();
  }
}

export async function job(argv: string[]): Promise<void> {
  const [sub, ...rest] = argv;
  if (sub === undefined || sub === '-h' || sub === '--help') usage();
  switch (sub) {
    case 'info': {
      const p = new Optparse(`${PROG} info`, [
        { name: 'original', key: 'o', usage: 'For key "jobspec", return the original submitted jobspec' },
        { name: 'base', key: 'b', usage: 'For key "jobspec" or "R", do not apply updates from eventlog' },
      ], 'id key', 25, 'Display info for a job');
      const o = parseOrExit(p, rest);
      if (o.args.length !== 2) usageExit(p);
      const id = oneId(p, o.args);
      const key = o.args[1];
      await withHandle(async (h) => {
        let text: string;
        try {
          text = await lookupJobKey(h, id, key === 'jobspec' && has(o, 'original') ? 'J' : key);
        } catch (e) {
          die(PROG, `${key}: ${errMsg(e)}`);
        }
        if (key === 'jobspec' && has(o, 'original')) text = unwrapSigned(text).payload.toString('utf8');
        if (key === 'jobspec') out.write(`${formatJobspec(parseJson(text))}\n`);
        else if (key === 'R') out.write(`${stringifyJson(parseJson(text), { layout: 'python', floatPaths: R_FLOATS })}\n`);
        else out.write(text.endsWith('\n') ? `${text}\n` : `${text}\n`);
      });
      return;
    }
    case 'eventlog': {
      const p = new Optparse(`${PROG} eventlog`, [
        { name: 'format', key: 'f', hasArg: 1, arginfo: 'FORMAT', usage: 'Specify output format: text, json' },
        { name: 'path', key: 'p', hasArg: 1, arginfo: 'PATH', usage: 'Specify alternate eventlog name or path suffix (e.g. "exec", "output", "guest.exec.eventlog")' },
      ], 'id', 25, 'Display eventlog for a job');
      const o = parseOrExit(p, rest);
      const id = oneId(p, o.args);
      const pathArg = last(o, 'path') ?? 'eventlog';
      const key = pathArg === 'exec' ? 'guest.exec.eventlog' : pathArg === 'output' ? 'guest.output' : pathArg === 'input' ? 'guest.input' : pathArg;
      await withHandle(async (h) => {
        let text: string;
        try {
          text = await lookupJobKey(h, id, key);
        } catch (e) {
          die(PROG, `${errMsg(e)}`);
        }
        for (const line of text.split('\n').filter((l) => l !== '')) {
          if (last(o, 'format') === 'json') out.write(`${line}\n`);
          else {
            const [ev] = parseEventlog(line);
            if (ev) out.write(`${formatEventText(ev)}\n`);
          }
        }
      });
      return;
    }
    case 'wait-event': {
      const p = new Optparse(`${PROG} wait-event`, [
        { name: 'format', key: 'f', hasArg: 1, arginfo: 'FORMAT', usage: 'Specify output format: text, json' },
        { name: 'timeout', key: 't', hasArg: 1, arginfo: 'DURATION', usage: 'timeout after DURATION' },
        { name: 'path', key: 'p', hasArg: 1, arginfo: 'PATH', usage: 'Specify alternate eventlog name' },
        { name: 'quiet', key: 'q', usage: 'Do not output matched event' },
        { name: 'verbose', key: 'v', usage: 'Output all events before matched event' },
      ], 'id event', 25, 'Wait for an event');
      const o = parseOrExit(p, rest);
      if (o.args.length !== 2) usageExit(p);
      const id = oneId(p, o.args);
      const name = o.args[1];
      const pathArg = last(o, 'path') ?? 'eventlog';
      const key = pathArg === 'exec' ? 'guest.exec.eventlog' : pathArg;
      const timeout = last(o, 'timeout');
      let timer: NodeJS.Timeout | undefined;
      if (timeout !== undefined) {
        const secs = Number(timeout.replace(/s$/, ''));
        timer = setTimeout(() => {
          process.stderr.write(`${PROG}: wait-event timeout on event '${name}'\n`);
          process.exit(1);
        }, secs * 1000);
      }
      let found = false;
      await withHandle(async (h) => {
        h.ref();
        await followEventlog(h, id, key, (ev, line) => {
          const print = (): void => {
            if (has(o, 'quiet')) return;
            out.write(last(o, 'format') === 'json' ? `${line}\n` : `${formatEventText(ev)}\n`);
          };
          if (ev.name === name) {
            print();
            found = true;
            return true;
          }
          if (has(o, 'verbose')) print();
          return key === 'eventlog' && ev.name === 'clean';
        });
      });
      clearTimeout(timer);
      if (!found) die(PROG, `wait-event: event '${name}' never received`);
      return;
    }
    case 'attach': {
      const p = new Optparse(`${PROG} attach`, [
        { name: 'label-io', key: 'l', usage: 'Label output by rank' },
        { name: 'quiet', key: 'q', usage: 'Suppress warnings written to stderr from flux-job' },
        { name: 'read-only', key: 'r', usage: 'Disable reading stdin and capturing signals' },
        { name: 'unbuffered', key: 'u', usage: 'Disable buffering of stdin' },
        { name: 'stdin-ranks', key: 'i', hasArg: 1, arginfo: 'RANKS', usage: 'Send standard input to only RANKS (default: all)' },
      ], 'id', 25, 'Interactively attach to job');
      const o = parseOrExit(p, rest);
      const id = oneId(p, o.args);
      const code = await withHandle(async (h) => {
        h.ref();
        const ranks = last(o, 'stdin-ranks') ?? 'all';
        if (ranks !== 'all' && !isIdset(ranks)) die(PROG, `invalid value for --stdin-ranks: ${ranks}`);
        const fwd = has(o, 'read-only') ? undefined : forwardStdin(h, id, ranks, (msg) => {
          process.stderr.write(`${PROG}: ${msg}\n`);
          process.exit(1);
        });
        try {
          return await attachJob(h, id, { labelIo: has(o, 'label-io'), quiet: has(o, 'quiet') });
        } finally {
          fwd?.stop();
        }
      });
      await out.flush();
      if (code) throw new Exit(code);
      return;
    }
    case 'id': {
      const p = new Optparse(`${PROG} id`, [
        { name: 'to', key: 't', hasArg: 1, arginfo: 'TO', usage: 'Convert jobid to TO format (dec,hex,kvs,dothex,words,f58,f58plain,emoji)' },
      ], '[OPTIONS] [id...]', 25, 'Convert jobid(s) to another form');
      const o = parseOrExit(p, rest);
      const to = last(o, 'to') ?? 'dec';
      if (!(JOBID_ENCODINGS as readonly string[]).includes(to)) die(PROG, `Unknown to=${to}`);
      for (const a of o.args) {
        let id: JobId;
        try {
          id = jobIdArg(PROG, a);
        } catch {
          die(PROG, `id: error parsing jobid: "${a}"`);
        }
        out.write(`${encodeJobId(id, to)}\n`);
      }
      return;
    }
    case 'kill': {
      const p = new Optparse(`${PROG} kill`, [
        { name: 'signal', key: 's', hasArg: 1, arginfo: 'SIG', usage: 'Send signal SIG (default SIGTERM)' },
      ], 'ids...', 25, 'Send signal to running job');
      const o = parseOrExit(p, rest);
      if (o.args.length === 0) usageExit(p);
      const s = (last(o, 'signal') ?? 'TERM').toUpperCase().replace(/^SIG/, '');
      const signum = /^[0-9]+$/.test(s) ? Number(s) : SIGNALS[s];
      if (!signum) die(PROG, `kill: Invalid signal ${last(o, 'signal')}`);
      await forEachId(o.args, 'job-manager.kill', (id) => ({ id: idJson(id), signum }));
      return;
    }
    case 'cancel': case 'raise': {
      const p = new Optparse(`${PROG} ${sub}`, [
        { name: 'severity', key: 's', hasArg: 1, arginfo: 'N', usage: 'Set exception severity [0-7] (default is 0)' },
        { name: 'type', key: 't', hasArg: 1, arginfo: 'TYPE', usage: 'Set exception type (default is cancel)' },
      ], 'ids... [--] [message...]', 25, sub === 'cancel' ? 'Cancel a job' : 'Raise exception for job');
      const o = parseOrExit(p, rest);
      const dd = o.args.indexOf('--');
      const idArgs = dd < 0 ? o.args.filter((a) => /^[ƒf0-9]/.test(a)) : o.args.slice(0, dd);
      const note = (dd < 0 ? o.args.slice(idArgs.length) : o.args.slice(dd + 1)).join(' ');
      if (idArgs.length === 0) usageExit(p);
      const type = sub === 'cancel' ? 'cancel' : last(o, 'type') ?? 'cancel';
      const severity = Number(last(o, 'severity') ?? 0);
      await forEachId(idArgs, 'job-manager.raise', (id) => ({ id: idJson(id), type, severity, note }));
      return;
    }
    case 'urgency': {
      const p = new Optparse(`${PROG} urgency`, [{ name: 'verbose', key: 'v', usage: 'Output old urgency value on success' }], 'id urgency', 25, 'Set job urgency (0-31, HOLD, EXPEDITE, DEFAULT)');
      const o = parseOrExit(p, rest);
      if (o.args.length !== 2) usageExit(p);
      const u = o.args[1].toUpperCase();
      const urgency = u === 'HOLD' ? 0 : u === 'EXPEDITE' ? 31 : u === 'DEFAULT' ? 16 : Number(o.args[1]);
      if (!Number.isInteger(urgency)) die(PROG, `urgency: invalid urgency ${o.args[1]}`);
      const id = oneId(p, o.args);
      await withHandle(async (h) => {
        try {
          const r = payloadJson<{ old_urgency?: number }>(await h.rpc('job-manager.urgency', jsonPayload({ id: idJson(id), urgency })).response());
          if (has(o, 'verbose')) out.write(`${o.args[0]}: urgency changed from ${r.old_urgency} to ${urgency}\n`);
        } catch (e) {
          die(PROG, `urgency: ${errMsg(e)}`);
        }
      });
      return;
    }
    case 'status': {
      const p = new Optparse(`${PROG} status`, [
        { name: 'verbose', key: 'v', usage: 'Increase verbosity of output' },
        { name: 'exception-exit-code', key: 'e', hasArg: 1, arginfo: 'N', usage: 'Set the default exit code for any jobs that terminate solely due to an exception (e.g. canceled jobs or jobs rejected by the scheduler) to N [default=1]' },
      ], 'id [id...]', 25, 'Wait for job(s) to complete and exit with largest exit code');
      const o = parseOrExit(p, rest);
      if (o.args.length === 0) usageExit(p);
      const excCode = Number(last(o, 'exception-exit-code') ?? 1);
      let rc = 0;
      await withHandle(async (h) => {
        h.ref();
        for (const a of o.args) {
          const id = oneId(p, [a]);
          let status: number | undefined;
          let fatal: string | undefined;
          await followEventlog(h, id, 'eventlog', (ev) => {
            if (ev.name === 'finish' && typeof ev.context?.status === 'number') status = ev.context.status;
            if (ev.name === 'exception' && ev.context?.severity === 0 && fatal === undefined) fatal = String(ev.context?.type ?? '');
            return ev.name === 'clean';
          });
          const code = status !== undefined ? waitStatusExitCode(status) : fatal !== undefined ? excCode : 0;
          if (has(o, 'verbose')) {
            const how = status !== undefined ? `exited with exit code ${code}` : `exception type=${fatal ?? ''}`;
            process.stderr.write(`${a}: ${how}\n`);
          }
          rc = Math.max(rc, code);
        }
      });
      if (rc) throw new Exit(rc);
      return;
    }
    case 'wait': {
      const p = new Optparse(`${PROG} wait`, [], '[id]', 25, 'Wait for job to complete.');
      const o = parseOrExit(p, rest);
      const id = oneId(p, o.args);
      await withHandle(async (h) => {
        h.ref();
        try {
          const r = payloadJson<{ success?: boolean; errstr?: string }>(await h.rpc('job-manager.wait', jsonPayload({ id: idJson(id) })).response());
          if (!r.success) die(PROG, `wait: ${o.args[0]}: ${r.errstr ?? ''}`);
        } catch (e) {
          if (e instanceof Exit) throw e;
          die(PROG, `wait: ${errMsg(e)}`);
        }
      });
      return;
    }
    default:
      die(PROG, `Unknown subcommand: ${sub}`);
  }
}

async function forEachId(args: string[], topic: string, payload: (id: JobId) => Record<string, unknown>): Promise<void> {
  let rc = 0;
  await withHandle(async (h) => {
    for (const a of args) {
      try {
        const id = jobIdArg(PROG, a);
        await h.rpc(topic, jsonPayload(payload(id))).response();
      } catch (e) {
        process.stderr.write(`${PROG}: ${a}: ${errMsg(e).replace(`${PROG}: `, '')}\n`);
        rc = 1;
      }
    }
  });
  if (rc) throw new Exit(rc);
}
