/** flux pstree's tree drawing (flux-core's flux.util.Tree): connectors, combining, prefixes, cuts. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tree } from '../../broker/src/cmd/pstree-tree';

function sample(combine: boolean): Tree {
  const root = new Tree('.', '', combine);
  const flux = new Tree('flux', '', combine);
  const a = new Tree('flux', '', combine);
  a.appendTree(new Tree('sleep'));
  const b = new Tree('flux', '', combine);
  b.appendTree(new Tree('sleep'));
  flux.appendTree(a);
  flux.appendTree(b);
  root.appendTree(flux);
  root.appendTree(new Tree('true'));
  root.appendTree(new Tree('true'));
  return root;
}

test('box connectors, nested levels, identical leaves combined but not subtrees', () => {
  assert.deepEqual(sample(true).render(), [
    '.', '├── flux', '│   ├── flux', '│   │   └── sleep', '│   └── flux', '│       └── sleep', '└── 2*[true]',
  ]);
});

test('without combining, and with compact or ASCII connectors', () => {
  assert.deepEqual(sample(false).render({ style: 'ascii' }).slice(-3), ['|       `-- sleep', '|-- true', '`-- true']);
  assert.deepEqual(sample(true).render({ style: 'compact' }).slice(0, 3), ['.', '├─flux', '│ ├─flux']);
});

test('skipping the root draws its children as roots; prefixes come before the connectors', () => {
  const root = new Tree('.', 'ROOT');
  root.appendTree(new Tree('a', 'P1'));
  root.appendTree(new Tree('b', 'P2'));
  assert.deepEqual(root.render(), ['ROOT .', 'P1 ├── a', 'P2 └── b']);
  assert.deepEqual(root.render({ skipRoot: true }), ['P1 a', 'P2 b']);
});

test('lines longer than the width are cut with a +, counting characters', () => {
  assert.deepEqual(sample(true).render({ width: 12 }).slice(0, 4), ['.', '├── flux', '│   ├── flux', '│   │   └──+']);
});
