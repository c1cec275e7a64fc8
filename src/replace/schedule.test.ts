// α schedules: each form's sequence against hand-computed values, the
// round trip through its string, and bad strings refused with the forms.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ReplaceError } from './errors.js';
import { alphaSequence, parseSchedule, scheduleText } from './schedule.js';

const close = (a: number[], b: number[]) => a.length === b.length && a.every((v, i) => Math.abs(v - b[i]!) < 1e-12);

test('exp:R steps by (1 − R) until the floor, then 0; linear, cosine and step as written', () => {
  const exp = alphaSequence(parseSchedule('exp:0.5:0.2'));
  assert.ok(close(exp, [0.5, 0.25, 0]), JSON.stringify(exp));
  const seed = alphaSequence(parseSchedule('exp:0.05'));
  assert.ok(Math.abs(seed[0]! - 0.95) < 1e-12 && seed.at(-1) === 0);
  // (0.95)^k >= 0.05 for k <= 58 (0.95^58 = 0.0510, 0.95^59 = 0.0485).
  assert.equal(seed.length, 58 + 1);
  assert.ok(close(alphaSequence(parseSchedule('linear:4')), [0.75, 0.5, 0.25, 0]));
  assert.ok(close(alphaSequence(parseSchedule('cosine:2')), [0.5, 0]));
  assert.ok(close(alphaSequence(parseSchedule('cosine:4')), [(1 + Math.SQRT1_2) / 2, 0.5, (1 - Math.SQRT1_2) / 2, 0]));
  assert.deepEqual(alphaSequence(parseSchedule('step:0.9,0.5,0.1')), [0.9, 0.5, 0.1]);
  for (const s of ['exp:0.05', 'exp:0.1:0.02', 'linear:10', 'cosine:3', 'step:0.75,0.5,0']) assert.equal(scheduleText(parseSchedule(s)), s);
});

test('bad schedule strings: ReplaceErrors naming the string and the forms', () => {
  for (const [s, re] of [
    ['expo:0.1', /unknown schedule 'expo'/],
    ['exp:1.5', /decay rate must be in \(0, 1\)/],
    ['exp:x', /decay rate must be a number, got 'x'/],
    ['linear:0', /step count must be an integer/],
    ['cosine:2.5', /step count must be an integer/],
    ['step:0.5,0.7', /must decrease strictly/],
    ['step:1,0.5', /values must be in \[0, 1\)/],
    ['step:', /every value must be a number/],
  ] as const) {
    assert.throws(() => parseSchedule(s), (e: unknown) => e instanceof ReplaceError && re.test(e.message) && e.message.includes(`'${s}'`) && e.message.includes('forms:'), s);
  }
});
