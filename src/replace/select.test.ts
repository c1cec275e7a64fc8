// Choosing the convs to replace: the savings counted by hand, the fewest
// convs that reach the share (largest first), named layers checked, and a
// share out of reach refused with what is reachable.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GraphBuilder } from '../graph/index.js';
import { ReplaceError } from './errors.js';
import { candidates, selectConvs } from './select.js';

function net() {
  const b = new GraphBuilder('net');
  const x = b.input([2, 8, 8]);
  const a = b.conv2d(x, 4, 3, { padding: 1, name: 'a' }); // 4·2·9 + 4 = 76 params, saving 4·2·8 = 64
  const c = b.conv2d(b.relu(a), 8, 3, { padding: 1, name: 'c' }); // 8·4·9 + 8 = 296, saving 8·4·8 = 256
  const d = b.conv2d(b.relu(c), 8, 1, { name: 'd' }); // 1×1: 72, not a candidate
  return b.build(b.linear(b.flatten(b.relu(d)), 2, { name: 'fc' })); // 512·2 + 2 = 1026
}

test('savings by hand; the fewest convs, largest first, reaching the share; named layers', () => {
  const g = net();
  assert.deepEqual(candidates(g), [{ conv: 'a', saving: 64 }, { conv: 'c', saving: 256 }]);
  const total = 76 + 296 + 72 + 1026;
  const s = selectConvs(g, { paramShare: 0.1 });
  assert.deepEqual(s.convs, ['c']);
  assert.deepEqual([s.paramsBefore, s.paramsAfter], [total, total - 256]);
  assert.ok(Math.abs(s.share - 256 / total) < 1e-12);
  assert.deepEqual(selectConvs(g, { paramShare: 0.2 }).convs, ['a', 'c']);
  assert.deepEqual(selectConvs(g, { layers: ['a'] }).convs, ['a']);
});

test('a narrow branch (width 0.5, rank r = round(0.5 · min(Cin, Cout))) saves Cout·Cin·9 − r·(Cin + Cout), which changes the choice', () => {
  const g = net();
  // a: 2 → 4, r 1: 72 − 1·6 = 66; c: 4 → 8, r 2: 288 − 2·12 = 264.
  assert.deepEqual(candidates(g, 0.5), [{ conv: 'a', saving: 66 }, { conv: 'c', saving: 264 }]);
  // A width near 1 keeps more than one full 1×1 conv (r·(Cin + Cout) > Cin·Cout) but still less than the k×k kernel: c, r 4: 288 − 48.
  assert.deepEqual(candidates(g, 0.99), [{ conv: 'a', saving: 72 - 2 * 6 }, { conv: 'c', saving: 288 - 4 * 12 }]);
  const total = 76 + 296 + 72 + 1026;
  // 264 / 1470 = 17.96 %: c alone reaches 0.179, which width 1 (256, 17.4 %) does not.
  assert.deepEqual(selectConvs(g, { paramShare: 0.179 }).convs, ['a', 'c']);
  const s = selectConvs(g, { paramShare: 0.179, width: 0.5 });
  assert.deepEqual([s.convs, s.paramsAfter], [['c'], total - 264]);
  assert.equal(selectConvs(g, { layers: ['a', 'c'], width: 0.5 }).paramsAfter, total - 66 - 264);
  assert.throws(() => selectConvs(g, { paramShare: 0.1, width: 0 }), (e: unknown) => e instanceof ReplaceError && /branch width must be in \(0, 1\]/.test(e.message));
});

test('a share out of reach, a 1×1 or non-conv layer: ReplaceErrors that say why', () => {
  const g = net();
  assert.throws(() => selectConvs(g, { paramShare: 0.65 }), (e: unknown) => e instanceof ReplaceError && /removes 21\.8 % of its 1,470 parameters, less than the 65\.0 % asked/.test(e.message));
  assert.throws(() => selectConvs(g, { paramShare: 1 }), (e: unknown) => e instanceof ReplaceError && /must be in \(0, 1\)/.test(e.message));
  assert.throws(() => selectConvs(g, { layers: ['d'] }), (e: unknown) => e instanceof ReplaceError && /already has a 1×1 kernel/.test(e.message));
  assert.throws(() => selectConvs(g, { layers: ['fc'] }), (e: unknown) => e instanceof ReplaceError && /not a convolution/.test(e.message));
});
