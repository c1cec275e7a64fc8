// Schedules against their closed forms, computed here independently.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Scope, tensor } from '../tensor/index.js';
import { SGD } from './optim/index.js';
import { LrSchedule, scheduleFactor, type ScheduleSpec } from './schedules.js';

const close = (a: number, b: number, what: string) => assert.ok(Math.abs(a - b) <= 1e-12 * Math.max(1, Math.abs(b)), `${what}: ${a} vs ${b}`);

function sgdWithGroups(lrs: number[]): { opt: SGD; scope: Scope } {
  const scope = new Scope();
  const opt = new SGD(lrs.map((lr) => ({ params: [tensor([1, 2, 3]).requiresGrad_()], lr })));
  return { opt, scope };
}

test('linear warm-up then cosine (seed 002 shape: 5 warm-up epochs) matches the formula', () => {
  const spec: ScheduleSpec = { type: 'cosine', length: 15, warmup: 5, warmupStartFactor: 0.2, minFactor: 0.01 };
  // warm-up: 0.2 -> 1 linearly over 5 positions
  close(scheduleFactor(spec, 0), 0.2, 't=0');
  close(scheduleFactor(spec, 1), 0.2 + 0.8 / 5, 't=1');
  close(scheduleFactor(spec, 4), 0.2 + (0.8 * 4) / 5, 't=4');
  // t=5: start of the cosine, factor 1
  close(scheduleFactor(spec, 5), 1, 't=5');
  // t=10: 5 of 15 into the cosine: 0.01 + 0.99 * (1 + cos(pi/3)) / 2 = 0.01 + 0.99 * 0.75
  close(scheduleFactor(spec, 10), 0.01 + 0.99 * 0.75, 't=10');
  // half way: cos(pi/2) = 0
  close(scheduleFactor({ type: 'cosine', length: 10 }, 5), 0.5, 'half way');
  close(scheduleFactor(spec, 20), 0.01, 't=20 (end)');
  close(scheduleFactor(spec, 100), 0.01, 'after the end');
  // default warm-up start factor
  close(scheduleFactor({ type: 'cosine', length: 10, warmup: 4 }, 2), 0.1 + 0.9 * 0.5, 'default start factor');
});

test('step, multistep and exponential', () => {
  const step: ScheduleSpec = { type: 'step', stepSize: 3, gamma: 0.5 };
  assert.deepEqual([0, 1, 2, 3, 5, 6, 9].map((t) => scheduleFactor(step, t)), [1, 1, 1, 0.5, 0.5, 0.25, 0.125]);
  const ms: ScheduleSpec = { type: 'multistep', milestones: [2, 5], gamma: 0.1 };
  const got = [0, 1, 2, 4, 5, 8].map((t) => scheduleFactor(ms, t));
  [1, 1, 0.1, 0.1, 0.1 * 0.1, 0.1 * 0.1].forEach((e, i) => close(got[i]!, e, `multistep ${i}`));
  // with warm-up the milestones count from its end (SequentialLR convention)
  close(scheduleFactor({ ...ms, warmup: 3, warmupStartFactor: 0 }, 4), 1, 'multistep after warm-up, before milestone');
  close(scheduleFactor({ ...ms, warmup: 3, warmupStartFactor: 0 }, 5), 0.1, 'multistep first milestone after warm-up');
  close(scheduleFactor({ type: 'exponential', gamma: 0.9 }, 3), 0.9 ** 3, 'exponential');
});

test('LrSchedule scales every group from its own base lr, per step or per epoch', () => {
  const { opt, scope } = sgdWithGroups([0.005, 0.0005]);
  const s = new LrSchedule(opt, { type: 'multistep', milestones: [2], gamma: 0.1, unit: 'step' });
  assert.deepEqual(s.lrs, [0.005, 0.0005]);
  s.onEpochEnd(); // wrong unit: no move
  s.onStepEnd();
  assert.equal(s.position, 1);
  s.onStepEnd();
  close(s.lrs[0]!, 0.0005, 'group 0 after milestone');
  close(s.lrs[1]!, 0.00005, 'group 1 after milestone');
  const e = new LrSchedule(new SGD([tensor([1]).requiresGrad_()], { lr: 1 }), { type: 'cosine', length: 4, warmup: 1, warmupStartFactor: 0.5 });
  assert.equal(e.lrs[0], 0.5, 'warm-up factor applied at attach time');
  e.onStepEnd();
  assert.equal(e.lrs[0], 0.5);
  e.onEpochEnd();
  assert.equal(e.lrs[0], 1);
  scope.end();
});

test('schedule state round-trips through JSON and restores the position', () => {
  const { opt, scope } = sgdWithGroups([0.1, 0.2]);
  const spec: ScheduleSpec = { type: 'cosine', length: 10, warmup: 2, unit: 'step' };
  const a = new LrSchedule(opt, spec);
  for (let i = 0; i < 7; i++) a.advance();
  const saved = JSON.parse(JSON.stringify(a.state()));
  const { opt: opt2, scope: scope2 } = sgdWithGroups([0.1, 0.2]);
  const b = new LrSchedule(opt2, { unit: 'step', warmup: 2, length: 10, type: 'cosine' }); // same spec, other key order
  b.loadState(saved);
  assert.equal(b.position, 7);
  assert.deepEqual(b.lrs, a.lrs);
  a.advance();
  b.advance();
  assert.deepEqual(b.lrs, a.lrs);
  assert.throws(() => new LrSchedule(opt2, { type: 'step', stepSize: 2 }).loadState(saved), /state is for schedule/);
  scope.end();
  scope2.end();
});

test('invalid schedules are rejected', () => {
  const { opt, scope } = sgdWithGroups([0.1]);
  assert.throws(() => new LrSchedule(opt, { type: 'multistep', milestones: [5, 2] }), /increasing/);
  assert.throws(() => new LrSchedule(opt, { type: 'cosine', length: 0 }), /length/);
  assert.throws(() => new LrSchedule(opt, { type: 'step', stepSize: 1, unit: 'batch' as never }), /unit/);
  scope.end();
});
