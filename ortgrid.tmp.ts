import { GraphBuilder, Model } from '/work/main/src/graph/index.js';
import { compareLatency } from '/work/main/src/measure/index.js';
function lenet(c1: number, c2: number, f1: number) {
  const b = new GraphBuilder('lenet5');
  let x = b.input([1, 28, 28]);
  x = b.maxpool2d(b.relu(b.conv2d(x, c1, 5, { padding: 'same', name: 'conv1' }), { name: 'relu1' }), 2, { name: 'pool1' });
  x = b.maxpool2d(b.relu(b.conv2d(x, c2, 5, { padding: 'same', name: 'conv2' }), { name: 'relu2' }), 2, { name: 'pool2' });
  x = b.flatten(x, { name: 'flatten' });
  x = b.relu(b.linear(x, f1, { name: 'fc1' }), { name: 'relu3' });
  x = b.linear(x, 10, { name: 'fc2' });
  return Model.create(b.build(x), { seed: 0 });
}
const base = lenet(32, 64, 1024);
const configs = (process.argv[2] ?? '13,19,22;16,16,16;13,16,16;16,19,22;8,16,16;16,16,32;16,32,16;12,12,16;8,8,16;16,24,16;13,19,16').split(';').map((s) => s.split(',').map(Number));
for (const [c1, c2, f1] of configs) {
  const m = lenet(c1!, c2!, f1!);
  const r = await compareLatency(base, m, { batches: [64], runs: 40, rounds: 4, engine: false, threads: Number(process.env.T ?? 1) } as never);
  const o = r.ort[64]!;
  console.log(`${c1},${c2},${f1}: base ${o.before.median_ms.toFixed(2)} ms, pruned ${o.after.median_ms.toFixed(3)} ms, speed-up ${o.speedup.toFixed(2)}x`);
  m.dispose();
}
