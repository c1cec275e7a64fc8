// The fuzz campaign in CI size: a few hundred malformed files across every
// format, each read in a child process, must meet the bar (no native abort,
// no hang, no error outside the SlimnetError root or without the file name).
// The campaign's own detection is checked first: a case that aborts the
// process and a case that never returns are counted as such, not lost.
// The full campaign (10,000 cases per format) is `npm run fuzz`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FAILING, runCampaign } from './campaign.js';
import { FUZZ_FORMATS, makeCase, prepareBase, readBase } from './formats.js';
import { rngFor } from './mutate.js';
import { classify } from './protocol.js';
import { SlimnetError } from '../util/errors.js';
import { DataError } from '../data/errors.js';

test('classification: a SlimnetError naming the file is a rejection; anything else fails the bar', () => {
  assert.equal(classify(new DataError('/x/f.bin', 'bad'), '/x/f.bin'), 'rejected');
  assert.equal(classify(new SlimnetError('bad data'), '/x/f.bin'), 'unnamed');
  assert.equal(classify(new TypeError('/x/f.bin: expected.slice is not a function'), '/x/f.bin'), 'outsideRoot');
  assert.equal(classify('a string', '/x/f.bin'), 'outsideRoot');
});

test('the campaign counts a process abort and a hang in the case that caused them, and goes on', async () => {
  const r = await runCampaign({ formats: ['idx'], cases: 5, selfTest: true, timeoutMs: 1500 });
  assert.deepEqual(r.formats.idx, { accepted: 3, rejected: 0, outsideRoot: 0, unnamed: 0, abort: 1, hang: 1, generator: 0 });
  assert.deepEqual(r.examples.filter((e) => e.outcome === 'abort' || e.outcome === 'hang').map((e) => [e.outcome, e.index]), [['abort', 1], ['hang', 2]]);
  assert.equal(r.pass, false);
});

test('cases are a function of (seed, format, index): the same bytes again', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'slimnet-fuzz-base-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  await prepareBase(dir);
  const base = readBase(dir);
  for (const [fi, format] of FUZZ_FORMATS.entries()) {
    for (let i = 0; i < 20; i++) {
      const a = makeCase(format, rngFor(7, fi, i), base);
      const b = makeCase(format, rngFor(7, fi, i), base);
      assert.equal(a.how, b.how);
      assert.deepEqual(Object.keys(a.files), Object.keys(b.files));
      for (const k of Object.keys(a.files)) assert.ok(Buffer.from(a.files[k]!).equals(Buffer.from(b.files[k]!)), `${format} #${i} ${k}`);
    }
  }
});

test('a few hundred malformed files across every format meet the bar', async () => {
  const r = await runCampaign({ cases: 60, seed: 12 });
  const failing = r.examples.filter((e) => FAILING.includes(e.outcome));
  assert.equal(failing.length, 0, failing.map((e) => `${e.outcome} ${e.format} #${e.index} (${e.how}): ${e.message}`).join('\n'));
  assert.ok(r.pass);
  for (const f of FUZZ_FORMATS) {
    const c = r.formats[f]!;
    assert.equal(c.accepted + c.rejected, 60, f);
    assert.ok(c.rejected > 30, `${f}: most malformed files are rejected (${c.rejected} of 60)`);
  }
});
