/** `flux getattr NAME`, `flux setattr NAME VALUE`, `flux lsattr [-v]`. */
import { Optparse, has } from '../common/liboptparse/optparse';
import { die, errText, open, out, parseOrExit, usageExit } from './cli';

export async function getattr(argv: string[]): Promise<void> {
  const p = new Optparse('flux-getattr', [], 'name');
  const o = parseOrExit(p, argv);
  if (o.args.length !== 1) usageExit(p);
  const name = o.args[0];
  const h = await open('flux-getattr');
  try {
    out.write((await h.getattr(name)) + '\n');
  } catch (e) {
    die('flux-getattr', `${name}: ${errText(e)}`);
  } finally {
    h.close();
  }
}

export async function setattr(argv: string[]): Promise<void> {
  const p = new Optparse('flux-setattr', [], 'name value');
  const o = parseOrExit(p, argv);
  if (o.args.length !== 2) usageExit(p);
  const [name, value] = o.args;
  const h = await open('flux-setattr');
  try {
    await h.rpc('attr.set', { name, value }).get();
  } catch (e) {
    die('flux-setattr', `${name}: ${errText(e)}`);
  } finally {
    h.close();
  }
}

export async function lsattr(argv: string[]): Promise<void> {
  const p = new Optparse('flux-lsattr', [{ name: 'values', key: 'v', usage: 'List values with attributes' }]);
  const o = parseOrExit(p, argv);
  if (o.args.length !== 0) usageExit(p);
  const h = await open('flux-lsattr');
  try {
    const { names } = await h.rpc('attr.list').get<{ names: string[] }>();
    names.sort();
    if (!has(o, 'values')) {
      for (const n of names) out.write(n + '\n');
      return;
    }
    const values = await Promise.all(names.map((n) => h.getattr(n).catch(() => '-')));
    names.forEach((n, i) => out.write(`${n.padEnd(39)} ${values[i]}\n`));
  } catch (e) {
    die('flux-lsattr', errText(e));
  } finally {
    h.close();
  }
}
