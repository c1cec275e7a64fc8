// Memory over a long training run: 2,000 steps of the LeNet variant (batch
// 100, random data, Adam) in slimnet. Reports RSS after the warm-up and at
// the end, and the peak; flat memory means every step released what it made.
// --pytorch runs the same steps in PyTorch afterwards for comparison.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { getNumThreads, manualSeed, trackedCount } from '../src/tensor/index.js';
import { makeLeNet, randomBatches, trainStep } from './lib/lenet.js';
import { fmt, parseArgs, rssMb } from './lib/stats.js';

export const description = 'RSS over 2,000 training steps of the LeNet variant (growth must stay small)';

const DEFAULTS = {
  steps: 2000,
  warmup: 100,
  batch: 100,
  batches: 4,
  lr: 1e-4,
  every: 100,
  seed: 0,
  pytorch: false,
  python: process.env.SLIMNET_PYTHON ?? '/usr/bin/python3',
};

export function main(argv: string[]): void {
  const o = parseArgs(argv, DEFAULTS);
  if (o.warmup >= o.steps) throw new Error('--warmup must be below --steps');
  console.log(`memory: LeNet variant, batch ${o.batch}, Adam lr ${o.lr}, ${o.steps} steps (${o.warmup} warm-up), ${getNumThreads()} threads`);
  manualSeed(o.seed);
  const rssStart = rssMb();
  const net = makeLeNet(o.lr);
  const data = randomBatches(o.batches, o.batch);
  const tracked0 = trackedCount();
  const t0 = performance.now();
  let rssWarm = 0;
  let peak = rssStart;
  console.log('\n  step   rss MB   heap MB   external MB   s elapsed');
  const sample = (i: number) => {
    const m = process.memoryUsage();
    peak = Math.max(peak, m.rss / 2 ** 20);
    console.log(`${String(i).padStart(6)}   ${fmt(m.rss / 2 ** 20).padStart(6)}   ${fmt(m.heapUsed / 2 ** 20).padStart(7)}   ${fmt(m.external / 2 ** 20).padStart(11)}   ${fmt((performance.now() - t0) / 1000).padStart(9)}`);
  };
  for (let i = 0; i < o.steps; i++) {
    trainStep(net, data[i % data.length]!);
    if (i + 1 === o.warmup) {
      rssWarm = rssMb();
      sample(i + 1);
    } else if ((i + 1) % o.every === 0 || i + 1 === o.steps) {
      sample(i + 1);
    } else if ((i + 1) % 10 === 0) {
      peak = Math.max(peak, rssMb());
    }
  }
  const rssEnd = rssMb();
  if (trackedCount() !== tracked0) throw new Error(`training steps left ${trackedCount() - tracked0} tensors in open scopes`);
  // ru_maxrss: the kernel's high-water mark of the whole process, in KiB.
  const peakKernel = process.resourceUsage().maxRSS / 1024;
  net.dispose();
  for (const b of data) {
    b.x.dispose();
    b.y.dispose();
  }
  const growth = rssEnd - rssWarm;
  console.log(`\nRSS at start ${fmt(rssStart)} MB, after ${o.warmup} warm-up steps ${fmt(rssWarm)} MB, after ${o.steps} steps ${fmt(rssEnd)} MB`);
  console.log(`growth after warm-up ${fmt(growth)} MB; peak ${fmt(Math.max(peak, rssEnd))} MB sampled every 10 steps, ${fmt(peakKernel)} MB kernel high-water mark (ru_maxrss)`);

  if (o.pytorch) {
    const script = fileURLToPath(new URL('./engine_pytorch.py', import.meta.url));
    const args = [script, '--threads', String(getNumThreads()), '--memory-steps', String(o.steps), '--batch', String(o.batch), '--batches', String(o.batches), '--lr', String(o.lr)];
    const r = spawnSync(o.python, args, { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`${o.python} failed (exit ${r.status}):\n${r.stderr}`);
    const p = JSON.parse(r.stdout.trim().split('\n').pop()!) as { rss_warm_mb: number; rss_end_mb: number; rss_peak_sampled_mb: number; ru_maxrss_mb: number };
    console.log(`pytorch, same steps: RSS after warm-up ${p.rss_warm_mb} MB, at the end ${p.rss_end_mb} MB, growth ${fmt(p.rss_end_mb - p.rss_warm_mb)} MB, peak ${p.ru_maxrss_mb} MB (ru_maxrss)`);
  }

  console.log(JSON.stringify({
    bench: 'memory',
    steps: o.steps,
    rss_warm_mb: +rssWarm.toFixed(1),
    rss_end_mb: +rssEnd.toFixed(1),
    rss_growth_mb: +growth.toFixed(1),
    rss_peak_mb: +Math.max(peak, rssEnd).toFixed(1),
  }));
}
