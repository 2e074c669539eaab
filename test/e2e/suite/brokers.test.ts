// In-extension-host tests: the Flux extension starts a local 4-rank instance (kary:2), shows it in
// the Brokers view, and stops it leaving no broker process behind.
import * as assert from 'assert';
import * as fs from 'fs';
import * as vscode from 'vscode';

const EXTENSION_ID = 'flux-vscode.flux-vscode';

/** The API returned by the extension's activate() (the contract with extension/src). */
interface FluxExtensionApi {
  instance: {
    state(): 'stopped' | 'starting' | 'running' | 'stopping';
    uri(): string | undefined;
    brokerPids(): number[];
  };
  brokers: vscode.TreeDataProvider<unknown>;
}

interface StartResult {
  uri: string;
  size: number;
}

interface Rank {
  rank: number;
  label: string;
  description: string;
  id: string | undefined;
  collapsible: vscode.TreeItemCollapsibleState | undefined;
  children: Rank[];
}

const SIZE = 4;
const TOPOLOGY = 'kary:2';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw e; // EPERM would mean "alive but not ours": not expected here
  }
}

/** "1234 (state S, ppid 1200: node dist/broker.js ...)" for failure messages (Linux /proc). */
function describeProcess(pid: number): string {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
    return `${pid} (state ${state}, ppid ${ppid}: ${cmd || '?'})`;
  } catch {
    return `${pid}`;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `check` until it returns true or `ms` elapses; returns its last answer. */
async function waitFor(check: () => boolean | Promise<boolean>, ms: number, every = 100): Promise<boolean> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await check()) return true;
    if (Date.now() >= deadline) return false;
    await sleep(every);
  }
}

function labelText(label: string | vscode.TreeItemLabel | undefined): string {
  return typeof label === 'string' ? label : (label?.label ?? '');
}

function descriptionText(d: string | boolean | undefined): string {
  return typeof d === 'string' ? d : '';
}

/** Reads the whole tree from the provider behind flux.views.brokers, as the view would. */
async function readTree(provider: vscode.TreeDataProvider<unknown>): Promise<Rank[]> {
  const walk = async (element: unknown, depth: number): Promise<Rank[]> => {
    assert.ok(depth < 16, 'Brokers tree deeper than 16 levels: a cycle?');
    const nodes = (await provider.getChildren(element)) ?? [];
    const out: Rank[] = [];
    for (const node of nodes) {
      const item = await provider.getTreeItem(node);
      // A rank's other children ("modules") are checked by the modules suite.
      if (!/^flux\.broker\.\d+$/.test(item.id ?? '')) continue;
      const label = labelText(item.label);
      const m = /^rank (\d+)$/.exec(label);
      assert.ok(m, `tree item label ${JSON.stringify(label)} is not "rank N"`);
      out.push({
        rank: Number(m[1]),
        label,
        description: descriptionText(item.description),
        id: item.id,
        collapsible: item.collapsibleState,
        children: await walk(node, depth + 1),
      });
    }
    return out;
  };
  return walk(undefined, 0);
}

function flatten(ranks: Rank[]): Rank[] {
  return ranks.flatMap((r) => [r, ...flatten(r.children)]);
}

/** "0[1[3],2]" — the shape of the tree, for one readable assertion. */
function shape(ranks: Rank[]): string {
  return ranks.map((r) => (r.children.length ? `${r.rank}[${shape(r.children)}]` : `${r.rank}`)).join(',');
}

export function defineBrokersTests(): void {
  suite('Flux extension: local instance and Brokers view', () => {
    let api: FluxExtensionApi;
    let started: StartResult | undefined;
    let pids: number[] = [];
    const saved: { key: string; value: unknown }[] = [];
    let target = vscode.ConfigurationTarget.Global;

    suiteSetup(async () => {
      const ext = vscode.extensions.getExtension<FluxExtensionApi>(EXTENSION_ID);
      assert.ok(ext, `extension ${EXTENSION_ID} is not loaded`);
      api = await ext.activate();
      assert.ok(api && api.instance && api.brokers, 'activate() did not return { instance, brokers }');

      // Explicit instance settings (equal to the defaults) so the expected tree does not depend on them.
      target = vscode.workspace.workspaceFolders?.length ? vscode.ConfigurationTarget.Workspace : vscode.ConfigurationTarget.Global;
      const cfg = vscode.workspace.getConfiguration('flux.instance');
      for (const [key, value] of [['size', SIZE], ['topology', TOPOLOGY]] as const) {
        saved.push({ key, value: cfg.inspect(key)?.[target === vscode.ConfigurationTarget.Workspace ? 'workspaceValue' : 'globalValue'] });
        await cfg.update(key, value, target);
      }
    });

    suiteTeardown(async () => {
      // Never leave brokers behind, even when a test failed half-way.
      if (api && api.instance.state() !== 'stopped') {
        await vscode.commands.executeCommand('flux.instance.stop');
      }
      for (const p of pids) {
        if (alive(p)) process.kill(p, 'SIGKILL');
      }
      const cfg = vscode.workspace.getConfiguration('flux.instance');
      for (const { key, value } of saved) await cfg.update(key, value, target);
    });

    test('activates lazily and starts stopped', () => {
      assert.strictEqual(api.instance.state(), 'stopped');
      assert.strictEqual(api.instance.uri(), undefined);
      assert.deepStrictEqual(api.instance.brokerPids(), []);
    });

    test('flux.instance.start starts a 4-rank instance', async () => {
      started = await vscode.commands.executeCommand<StartResult>('flux.instance.start');
      assert.ok(started, 'flux.instance.start resolved to nothing');
      assert.strictEqual(started.size, SIZE);
      assert.match(started.uri, /^local:\/\/\//, `uri ${started.uri} is not local://`);
      assert.strictEqual(api.instance.state(), 'running');
      assert.strictEqual(api.instance.uri(), started.uri);
    });

    test('starting twice is idempotent', async () => {
      assert.ok(started, 'no instance (previous test failed)');
      const before = api.instance.brokerPids();
      const again = await vscode.commands.executeCommand<StartResult>('flux.instance.start');
      assert.ok(again, 'second flux.instance.start resolved to nothing');
      assert.strictEqual(again.uri, started.uri);
      assert.strictEqual(again.size, SIZE);
      assert.strictEqual(api.instance.state(), 'running');
      assert.deepStrictEqual([...api.instance.brokerPids()].sort(), [...before].sort(), 'second start changed the brokers');
    });

    test('one live broker process per rank', () => {
      pids = api.instance.brokerPids();
      assert.strictEqual(pids.length, SIZE, `brokerPids() = ${JSON.stringify(pids)}`);
      assert.strictEqual(new Set(pids).size, SIZE, `duplicate pids ${JSON.stringify(pids)}`);
      for (const pid of pids) {
        assert.ok(Number.isInteger(pid) && pid > 1, `bad pid ${pid}`);
        assert.ok(alive(pid), `broker pid ${pid} is not alive`);
        assert.notStrictEqual(pid, process.pid, 'a broker pid is the extension host itself');
        if (fs.existsSync(`/proc/${pid}/cmdline`)) {
          const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
          // Brokers show as flux-broker-R (process.title), or still as node .../dist/broker.js.
          assert.match(cmd, /flux-broker-\d+|broker\.js/, `pid ${pid} is not a broker: ${cmd.trim()}`);
        }
      }
    });

    test('Brokers view shows the kary:2 tree 0 -> [1 -> [3], 2], all online', async () => {
      let tree: Rank[] = [];
      // Ranks other than 0 may still be joining when start resolves: give them a few seconds.
      const ok = await waitFor(async () => {
        await vscode.commands.executeCommand('flux.views.brokers.refresh');
        tree = await readTree(api.brokers);
        const all = flatten(tree);
        return all.length === SIZE && all.every((r) => /\bonline\b/.test(r.description));
      }, 15000, 250);
      const all = flatten(tree);
      assert.strictEqual(shape(tree), '0[1[3],2]', `tree shape ${shape(tree)} (ranks ${all.map((r) => `${r.label}: ${r.description}`).join('; ')})`);
      assert.ok(ok, `not all ranks online: ${all.map((r) => `${r.label}: ${r.description}`).join('; ')}`);
      for (const r of all) {
        assert.strictEqual(r.label, `rank ${r.rank}`);
        assert.strictEqual(r.id, `flux.broker.${r.rank}`);
        assert.match(r.description, /\bonline\b/, `rank ${r.rank} description ${JSON.stringify(r.description)}`);
        if (r.children.length > 0) {
          assert.notStrictEqual(r.collapsible ?? vscode.TreeItemCollapsibleState.None, vscode.TreeItemCollapsibleState.None,
            `rank ${r.rank} has children but is not collapsible, so the view cannot show them`);
        }
      }
      assert.deepStrictEqual(all.map((r) => r.rank).sort(), [0, 1, 2, 3]);
    });

    test('flux.instance.stop ends every broker process', async () => {
      assert.strictEqual(pids.length, SIZE, 'no broker pids recorded (previous test failed)');
      await vscode.commands.executeCommand('flux.instance.stop');
      assert.strictEqual(api.instance.state(), 'stopped');
      assert.strictEqual(api.instance.uri(), undefined);
      assert.deepStrictEqual(api.instance.brokerPids(), []);
      // stop resolves after every broker has exited; allow a moment for the zombie to be reaped.
      await waitFor(() => pids.every((p) => !alive(p)), 2000, 50);
      const left = pids.filter(alive);
      assert.ok(left.length === 0, `broker processes still alive after stop: ${left.map(describeProcess).join('; ')}`);
      const roots = (await api.brokers.getChildren(undefined)) ?? [];
      assert.strictEqual(roots.length, 0, 'the Brokers view still lists brokers after stop');
    });
  });
}
