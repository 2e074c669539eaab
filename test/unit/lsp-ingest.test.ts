/**
 * The language server agrees with job-ingest: a corpus of valid and invalid jobspecs, each opened
 * in the server as YAML and as JSON, and submitted to job-ingest of a real 1-rank instance
 * (`job-ingest.submit`, J signed "none"). The server's first error is job-ingest's answer, word for
 * word; a jobspec the server finds no error in is accepted (scheduler-infeasible ones aside).
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { after, before, test } from 'node:test';
import { stringify } from 'yaml';
import { FluxError } from '../../broker/src/common/libflux/errno';
import { Flux } from '../../broker/src/common/libflux/handle';
import { jsonPayload } from '../../broker/src/common/libjob/rpc-json';
import { submitJobspec } from '../../broker/src/cmd/job-common';
import { FLUX, startInstance, type Instance } from '../integration/helpers';
import { startPair, type Pair } from './lsp-harness';

const base = (): Record<string, unknown> => ({
  version: 1,
  resources: [{ type: 'slot', count: 1, label: 'task', with: [{ type: 'core', count: 1 }] }],
  tasks: [{ command: ['true'], slot: 'task', count: { per_slot: 1 } }],
  attributes: { system: { duration: 0 } },
});

type Change = (js: Record<string, any>) => void; // eslint-disable-line @typescript-eslint/no-explicit-any
const CORPUS: [string, Change][] = [
  ['valid', () => undefined],
  ['valid with node', (j) => { j.resources = [{ type: 'node', count: 1, with: j.resources }]; }],
  ['valid total', (j) => { j.tasks[0].count = { total: 1 }; }],
  ['no version', (j) => { delete j.version; }],
  ['version 2', (j) => { j.version = 2; }],
  ['extraneous top key', (j) => { j.foo = 1; }],
  ['no resources', (j) => { delete j.resources; }],
  ['resources not a list', (j) => { j.resources = { type: 'slot' }; }],
  ['missing type', (j) => { delete j.resources[0].type; }],
  ['type not a string', (j) => { j.resources[0].type = 3; }],
  ['missing count', (j) => { delete j.resources[0].count; }],
  ['zero slot count', (j) => { j.resources[0].count = 0; }],
  ['negative gpu count', (j) => { j.resources[0].with.push({ type: 'gpu', count: -1 }); }],
  ['count string range', (j) => { j.resources[0].count = '2-1'; }],
  ['count range dict', (j) => { j.resources[0].count = { min: 1, max: 2 }; }],
  ['slot without label', (j) => { delete j.resources[0].label; }],
  ['label not a string', (j) => { j.resources[0].label = 5; }],
  ['exclusive not boolean', (j) => { j.resources[0].exclusive = 'yes'; }],
  ['no tasks', (j) => { delete j.tasks; }],
  ['task without command', (j) => { delete j.tasks[0].command; }],
  ['empty command', (j) => { j.tasks[0].command = []; }],
  ['command string', (j) => { j.tasks[0].command = 'hostname'; }],
  ['count with two keys', (j) => { j.tasks[0].count = { per_slot: 1, total: 2 }; }],
  ['per_slot zero', (j) => { j.tasks[0].count = { per_slot: 0 }; }],
  ['per_resource only', (j) => { j.tasks[0].count = { per_resource: 1 }; }],
  ['slot not a string', (j) => { j.tasks[0].slot = 1; }],
  ['no attributes', (j) => { delete j.attributes; }],
  ['attributes extraneous', (j) => { j.attributes.other = {}; }],
  ['no system', (j) => { j.attributes = { user: {} }; }],
  ['no duration', (j) => { j.attributes.system = { cwd: '/tmp' }; }],
  ['duration FSD string', (j) => { j.attributes.system.duration = '10m'; }],
  ['dependencies not a list', (j) => { j.attributes.system.dependencies = 'afterok'; }],
  ['constraint bad operator', (j) => { j.attributes.system.constraints = { foo: [] }; }],
  ['unknown shell option (warning only)', (j) => { j.attributes.system.shell = { options: { 'cpu-afinity': 'on' } }; }],
  ['type cores (warning; the scheduler refuses)', (j) => { j.resources[0].with[0].type = 'cores'; }],
  ['more cores than the instance has (the scheduler refuses)', (j) => { j.resources[0].with[0].count = 100000; }],
];

let inst: Instance | undefined;
let h: Flux;
let pair: Pair;
/** A server whose client answers flux/feasibility from the instance, as the extension does. */
let feasPair: Pair;
let feasAnswer: Promise<{ state: 'ok' | 'infeasible' | 'unknown'; message?: string }> | undefined;

before(async () => {
  pair = await startPair();
  if (!fs.existsSync(FLUX)) return;
  inst = await startInstance(1);
  h = await Flux.open(inst.uri);
  // startPair's feasibility hook is synchronous: answer with the last RPC's result, fetched first.
  feasPair = await startPair({ feasibility: () => ({ state: 'unknown' }) });
  feasPair.client.onRequest('flux/feasibility', (p: { jobspec: unknown }) => (feasAnswer = h.rpc('feasibility.check', jsonPayload({ jobspec: p.jobspec })).response().then(
    () => ({ state: 'ok' as const }),
    (e: unknown) => (e instanceof FluxError ? { state: 'infeasible' as const, message: e.message } : { state: 'unknown' as const }),
  )));
});

after(async () => {
  pair?.close();
  feasPair?.close();
  h?.close();
  await inst?.stop();
});

let n = 0;
for (const [name, change] of CORPUS) {
  test(`server and job-ingest agree: ${name}`, async (t) => {
    if (!inst) return t.skip('no dist/flux.js (npm run build)');
    const js = base();
    change(js);
    const json = JSON.stringify(js, null, 2);
    let ingest: string | undefined;
    try {
      await submitJobspec(h, json, 16, 0);
    } catch (e) {
      ingest = (e as Error).message;
    }
    const sched = name.includes('the scheduler refuses');
    for (const [ext, text] of [['json', json], ['yaml', stringify(js)]] as const) {
      const diags = await pair.open(`file:///corpus/${++n}.jobspec.${ext}`, text);
      const first = diags.find((d) => d.severity === 1)?.message;
      // The scheduler's refusals are not the validator's: no error without an instance ("unknown").
      assert.equal(first, sched ? undefined : ingest, `${ext}: server says ${String(first)}, job-ingest ${String(ingest)}`);
    }
    if (sched) {
      // With the instance attached: a warning carrying the scheduler's reason, job-ingest's words.
      assert.ok(ingest);
      const uri = `file:///corpus/${++n}.jobspec.yaml`;
      await feasPair.open(uri, stringify(js));
      const diags = await feasPair.nextDiagnostics(uri);
      void feasAnswer;
      const w = diags.find((d) => d.code === 'feasibility');
      assert.equal(w?.message, `the attached instance cannot satisfy this request: ${ingest}`);
      assert.equal(w?.severity, 2);
    }
  });
}
