// The Jobs view inside VS Code on the extension's own local instance: a command submitted with
// Flux: Run Command as Job is seen running and then finished in the view (live from the
// job-manager journal), its output document follows it, jobs are canceled (one, and a
// multi-selection), and the eventlog and Resubmit work.
import * as assert from 'assert';
import * as vscode from 'vscode';
import { activateExtension, rows, waitFor, type FluxExtensionApi, type Row } from './helpers';
import type { JobsView } from '../../../extension/src/jobs/jobs-view';
import type { RunResult } from '../../../extension/src/jobs/job-commands';

type Api = FluxExtensionApi & { jobs: JobsView };

export function defineJobsTests(): void {
  suite('Flux extension: Jobs view', () => {
    let api: Api;

    /** The job rows of a group (Pending, Running, Inactive) as the view renders them. */
    const groupRows = async (label: string): Promise<Row[]> => {
      const g = (await rows(api.jobs.tree)).find((r) => r.label === label);
      assert.ok(g, `no ${label} group`);
      return rows(api.jobs.tree, g.node);
    };
    const rowOf = async (label: string, f58: string): Promise<Row | undefined> => (await groupRows(label)).find((r) => r.label === f58);

    suiteSetup(async () => {
      ({ api } = (await activateExtension()) as unknown as { api: Api });
      await vscode.commands.executeCommand<string>('flux.instance.ensureStarted');
      assert.ok(await waitFor(() => api.jobs.journal.ready, 20000), `journal not ready: ${api.jobs.journal.error ?? ''}`);
      // jobs other suites left behind would take resources and count in the badge
      const active = api.jobs.journal.all().filter((j) => j.group !== 'inactive').map((j) => j.f58);
      if (active.length > 0) await Promise.resolve(vscode.commands.executeCommand('flux.jobs.cancel', active)).catch(() => undefined);
      assert.ok(await waitFor(() => api.jobs.journal.all().every((j) => j.group === 'inactive'), 20000), 'jobs of other suites still active');
    });

    test('Run Command as Job: the job shows running, then completed; its output document follows it', async () => {
      const seen: string[] = [];
      const off = api.jobs.journal.onEvent((_j, ev) => seen.push(ev.name));
      const r = await vscode.commands.executeCommand<RunResult>('flux.jobs.runCommand', 'echo hello-from-flux; sleep 2; echo bye-from-flux');
      assert.ok(r && /^ƒ/.test(r.id), `no job id: ${JSON.stringify(r?.id)}`);
      assert.strictEqual(r.document.uri.scheme, 'flux-job');
      const running = await waitFor(async () => (await rowOf('Running', r.id)) !== undefined, 15000, 100);
      assert.ok(running, 'the job never showed in Running');
      const row = (await rowOf('Running', r.id)) as Row;
      assert.strictEqual(row.contextValue, 'flux.job.running');
      assert.match(row.description, /^echo · RUN · 1 node \[\d\] · 1 task · /);
      // the badge and the status bar follow the view's (debounced) refresh
      assert.ok(await waitFor(() => api.jobs.view.badge?.value === 1, 3000), `badge = running jobs: ${JSON.stringify(api.jobs.view.badge)}`);
      assert.ok(await waitFor(() => /0 pending · 1 running/.test(api.jobs.statusText), 3000), api.jobs.statusText);
      // the output document shows the first line while the job still runs
      assert.ok(await waitFor(() => r.document.getText().includes('hello-from-flux'), 10000), `output: ${JSON.stringify(r.document.getText())}`);
      const done = await waitFor(async () => (await rowOf('Inactive', r.id)) !== undefined, 20000, 100);
      assert.ok(done, 'the job never became inactive');
      const fin = (await rowOf('Inactive', r.id)) as Row;
      assert.match(fin.description, /^echo · COMPLETED · 1 node/);
      assert.ok(await waitFor(() => r.document.getText() === 'hello-from-flux\nbye-from-flux\n', 10000), `output: ${JSON.stringify(r.document.getText())}`);
      assert.ok(await waitFor(() => api.jobs.view.badge === undefined, 2000), 'badge gone with no running job');
      off();
      for (const name of ['submit', 'alloc', 'start', 'finish', 'clean']) assert.ok(seen.includes(name), `journal did not deliver ${name}: ${seen.join(',')}`);
    });

    test('Cancel a running job from its row; a failing job shows its exit code', async () => {
      const r = await vscode.commands.executeCommand<RunResult>('flux.jobs.runCommand', '--job-name=sleeper sleep 60');
      assert.ok(await waitFor(async () => (await rowOf('Running', r.id)) !== undefined, 15000, 100), 'not running');
      const row = (await rowOf('Running', r.id)) as Row;
      const canceled = await vscode.commands.executeCommand<string[]>('flux.jobs.cancel', row.node, [row.node]);
      assert.deepStrictEqual(canceled, [r.id]);
      assert.ok(await waitFor(async () => (await rowOf('Inactive', r.id)) !== undefined, 15000, 100), 'not inactive after cancel');
      const fin = (await rowOf('Inactive', r.id)) as Row;
      assert.match(fin.description, /^sleeper · CANCELED · .* · cancel$/);
      assert.ok(await waitFor(() => r.document.getText().includes('job.exception type=cancel severity=0'), 10000), `output: ${JSON.stringify(r.document.getText())}`);

      const bad = await vscode.commands.executeCommand<RunResult>('flux.jobs.runCommand', '-n2 sh -c "exit 3"');
      assert.ok(await waitFor(async () => (await rowOf('Inactive', bad.id)) !== undefined, 15000, 100), 'exit 3 job not inactive');
      assert.match(((await rowOf('Inactive', bad.id)) as Row).description, /^sh · FAILED · .* · 2 tasks · .* · exit 3$/);
      assert.ok(await waitFor(() => bad.document.getText().includes('flux-job: task(s) exited with exit code 3'), 10000), bad.document.getText());
    });

    test('Cancel a multi-selection: a pending and a running job', async () => {
      // 4 ranks x 2 cores: the first takes a core of each node, the second needs both cores of each: it waits
      const a = await vscode.commands.executeCommand<RunResult>('flux.jobs.runCommand', '-N4 -n4 sleep 60');
      const b = await vscode.commands.executeCommand<RunResult>('flux.jobs.runCommand', '-N4 -n8 sleep 60');
      assert.ok(await waitFor(async () => (await rowOf('Running', a.id)) !== undefined && (await rowOf('Pending', b.id)) !== undefined, 15000, 100),
        'expected one running and one pending job');
      try {
        assert.ok(await waitFor(() => api.jobs.view.badge?.value === 1, 3000), JSON.stringify(api.jobs.view.badge));
        assert.ok(await waitFor(() => /1 pending · 1 running/.test(api.jobs.statusText), 3000), api.jobs.statusText);
        const ra = (await rowOf('Running', a.id)) as Row;
        const rb = (await rowOf('Pending', b.id)) as Row;
        assert.strictEqual(rb.contextValue, 'flux.job.pending');
        const canceled = await vscode.commands.executeCommand<string[]>('flux.jobs.cancel', rb.node, [ra.node, rb.node]);
        assert.deepStrictEqual(new Set(canceled), new Set([a.id, b.id]));
      } finally {
        // never leave the queue blocked for the next test
        for (const id of [a.id, b.id]) if (api.jobs.journal.all().find((j) => j.f58 === id)?.group !== 'inactive') await Promise.resolve(vscode.commands.executeCommand('flux.jobs.cancel', id)).catch(() => undefined);
      }
      assert.ok(await waitFor(async () => (await rowOf('Inactive', a.id)) !== undefined && (await rowOf('Inactive', b.id)) !== undefined, 15000, 100));
      // canceling an inactive job fails with flux's message
      await assert.rejects(Promise.resolve(vscode.commands.executeCommand('flux.jobs.cancel', a.id)), /job is inactive/);
    });

    test('Show Eventlog and Resubmit', async () => {
      const r = await vscode.commands.executeCommand<RunResult>('flux.jobs.runCommand', 'echo resubmit-me');
      assert.ok(await waitFor(async () => (await rowOf('Inactive', r.id)) !== undefined, 15000, 100));
      const row = (await rowOf('Inactive', r.id)) as Row;
      const log = await vscode.commands.executeCommand<vscode.TextDocument>('flux.jobs.showEventlog', row.node);
      assert.ok(await waitFor(() => /^\d+\.\d{6} clean$/m.test(log.getText()), 10000), log.getText());
      assert.match(log.getText(), /^\d+\.\d{6} submit userid=\d+ urgency=16 flags=0 version=1$/m);
      const again = await vscode.commands.executeCommand<string>('flux.jobs.resubmit', row.node);
      assert.ok(again && again !== r.id);
      assert.ok(await waitFor(async () => (await rowOf('Inactive', again)) !== undefined, 15000, 100), 'resubmitted job did not finish');
      const out = await vscode.commands.executeCommand<vscode.TextDocument>('flux.jobs.showOutput', again);
      assert.ok(await waitFor(() => out.getText() === 'resubmit-me\n', 10000), JSON.stringify(out.getText()));
    });
  });
}
