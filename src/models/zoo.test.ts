// The model zoo: counts against published or hand-computed figures, node
// names against the PyTorch state_dicts they mirror, and a forward (eval) and
// forward + backward (train) pass of every architecture.
//
// Measured with summarize() (src/graph/summary.ts):
//   arch (options)                  params        MACs/sample   reference
//   lenet5                          3,274,634     13,883,904    thesis Table 3.1 (exact, per layer)
//   vgg16_bn (CIFAR)                14,724,042    313,201,664   ~0.31 GMACs (slimming VGG-16); hand sum below
//   vgg16 (224, 1000)               138,357,544   15,470,264,320 torchvision 138,357,544 / 15.47 GFLOPS
//   vgg16_bn (224, 1000)            138,365,992   15,470,264,320 torchvision 138,365,992
//   resnet56 (option B)             855,770       125,747,840   paper 0.85M (option A: 853,018 / 125,485,696)
//   resnet18                        11,689,512    1,814,073,344 torchvision 11,689,512 / 1.81 GFLOPS
//   resnet34                        21,797,672    3,663,761,408 torchvision 21,797,672 / 3.66 GFLOPS
//   resnet50                        25,557,032    4,089,184,256 torchvision 25,557,032 / 4.09 GFLOPS
//   mobilenetv2 (224, 1000)         3,504,872     300,774,272   torchvision 3,504,872 / 0.30 GFLOPS; paper 300M MAdds
//   densenet_cifar (BC-40, k=12)    176,122       72,365,352    hand sum below
// (torchvision's "GFLOPS" column counts multiply-accumulates.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { F, randint, randn, setNumThreads, tidy, type Tensor } from '../tensor/index.js';
import { Model, summarize, type Graph, type SummaryRow } from '../graph/index.js';
import { archDef, archNames, buildArch, vggFromCfg, VGG_CFGS, makeDivisible, type ArchOptions } from './index.js';

// Batches of 2 gain nothing from intra-op threads, and when other processes
// share the cores, OpenMP's spinning made 2 threads 10-50x slower than 1 here
// (93 s against 6.5 s for the run-every-architecture test, on 2 busy cores).
if (!process.env.SLIMNET_NUM_THREADS) setNumThreads(1);

const rowsOf = (g: Graph): Map<string, SummaryRow> => new Map(summarize(g).rows.map((r) => [r.name, r]));
const keysOf = (g: Graph): Map<string, readonly number[]> => new Map(Model.entries(g).map((e) => [e.key, e.spec.shape]));

test('lenet5: per-layer counts are exactly those of the thesis Table 3.1', () => {
  const s = summarize(buildArch('lenet5'));
  const rows = new Map(s.rows.map((r) => [r.name, r]));
  const expect: [string, number, number, number][] = [
    // name, weights, biases, MACs
    ['conv1', 800, 32, 627_200], // 5*5*1*32; 28*28*32 outputs x 25 taps
    ['conv2', 51_200, 64, 10_035_200], // 5*5*32*64; 14*14*64 outputs x 800 taps
    ['fc1', 3_211_264, 1024, 3_211_264], // 3136*1024
    ['fc2', 10_240, 10, 10_240], // 1024*10
  ];
  for (const [name, weights, biases, macs] of expect) {
    const r = rows.get(name);
    assert.ok(r, `no row ${name}`);
    assert.deepEqual({ name, weights: r.weights, biases: r.biases, macs: r.macs }, { name, weights, biases, macs });
  }
  assert.equal(s.totals.weights, 800 + 51_200 + 3_211_264 + 10_240);
  assert.equal(s.totals.biases, 32 + 64 + 1024 + 10);
  assert.equal(s.totals.params, s.totals.weights + s.totals.biases);
  assert.equal(s.totals.macs, 627_200 + 10_035_200 + 3_211_264 + 10_240);
  assert.deepEqual(rows.get('pool2')!.outputShape, [64, 7, 7]);
});

test('vgg16_bn on CIFAR: 313,201,664 MACs (~0.31 G), computed by hand', () => {
  // 3x3 convs, padding 1: MACs = H*W * Cout * 9*Cin. Slimming cfg, 32x32 input:
  //   32x32: 3->64     1024*64*27     =  1,769,472
  //          64->64    1024*64*576    = 37,748,736
  //   16x16: 64->128   256*128*576    = 18,874,368
  //          128->128  256*128*1152   = 37,748,736
  //    8x8:  128->256  64*256*1152    = 18,874,368
  //          256->256  64*256*2304 x2 = 75,497,472
  //    4x4:  256->512  16*512*2304    = 18,874,368
  //          512->512  16*512*4608 x2 = 75,497,472
  //    2x2:  512->512  4*512*4608 x3  = 28,311,552   (no 5th pool in the slimming cfg)
  //   convs: 313,196,544; classifier 512*10 = 5,120; total 313,201,664.
  // Params: conv weights 14,710,464 (no bias) + 13 BN x 2 x C (4,224 x 2 = 8,448) + fc 5,130 = 14,724,042.
  const s = summarize(buildArch('vgg16_bn'));
  const convMacs = s.rows.filter((r) => r.kind === 'conv2d').reduce((a, r) => a + r.macs, 0);
  assert.equal(convMacs, 313_196_544);
  assert.equal(s.totals.macs, 313_201_664);
  assert.ok(Math.abs(s.totals.macs - 0.31e9) / 0.31e9 < 0.02);
  assert.equal(s.totals.params, 14_724_042);
  const rows = rowsOf(buildArch('vgg16_bn'));
  assert.deepEqual(rows.get('feature.42')!.outputShape, [512, 2, 2]); // last relu: 2x2 maps
  assert.deepEqual(rows.get('classifier')!.outputShape, [10]);
  // The plain variant has the same MACs and conv biases instead of BN.
  const plain = summarize(buildArch('vgg16'));
  assert.equal(plain.totals.macs, 313_201_664);
  assert.equal(plain.totals.params, 14_710_464 + 4_224 + 5_130);
});

test('vgg at 224 with 1000 classes is torchvision VGG (graph only)', () => {
  const g = buildArch('vgg16', { imageSize: 224, classes: 1000 });
  const s = summarize(g);
  assert.equal(s.totals.params, 138_357_544);
  assert.equal(s.totals.macs, 15_470_264_320);
  assert.equal(summarize(buildArch('vgg16_bn', { imageSize: 224, classes: 1000 })).totals.params, 138_365_992);
  assert.equal(summarize(buildArch('vgg11', { imageSize: 224, classes: 1000 })).totals.params, 132_863_336);
  const keys = keysOf(g);
  assert.deepEqual(keys.get('features.0.weight'), [64, 3, 3, 3]);
  assert.deepEqual(keys.get('features.28.weight'), [512, 512, 3, 3]);
  assert.deepEqual(keys.get('classifier.0.weight'), [4096, 25088]);
  assert.deepEqual(keys.get('classifier.6.weight'), [1000, 4096]);
  assert.deepEqual(g.shape('features.30'), [512, 7, 7]); // the 5th pool
  const bnKeys = keysOf(buildArch('vgg16_bn', { imageSize: 224, classes: 1000 }));
  assert.deepEqual(bnKeys.get('features.1.running_var'), [64]);
  assert.deepEqual(bnKeys.get('features.40.weight'), [512, 512, 3, 3]);
  assert.deepEqual(bnKeys.get('features.41.running_mean'), [512]);
  assert.equal(bnKeys.has('features.42.weight'), false); // relu, then the 5th pool at 43
});

test('vggFromCfg rebuilds the registered model and a pruned channel config', () => {
  assert.deepEqual(vggFromCfg(VGG_CFGS[16], { name: 'vgg16_bn' }).toJSON(), buildArch('vgg16_bn').toJSON());
  const pruned = [20, 'M', 40, 'M', 70, 'M', 100, 'M', 30] as const;
  const g = vggFromCfg(pruned, { classes: 100 });
  const rows = rowsOf(g);
  // conv weights: 27*20 + 180*40 + 360*70 + 630*100 + 900*30 = 540 + 7,200 + 25,200 + 63,000 + 27,000
  const s = summarize(g);
  // plus BN scales 20 + 40 + 70 + 100 + 30 and the classifier 30 * 100
  assert.equal(s.totals.weights, 540 + 7_200 + 25_200 + 63_000 + 27_000 + 260 + 3_000);
  assert.deepEqual(rows.get('classifier')!.outputShape, [100]);
  // MACs: 1024*540 + 256*7,200 + 64*25,200 + 16*63,000 + 4*27,000 + 3,000
  assert.equal(s.totals.macs, 552_960 + 1_843_200 + 1_612_800 + 1_008_000 + 108_000 + 3_000);
  assert.throws(() => vggFromCfg([64, 0, 'M']), /positive integers/);
});

test('resnet56 (CIFAR): 0.85-0.86M params, 125-127M MACs', () => {
  // Option A (paper) by hand: conv1 432 + BN 32; stage 1: 18 convs x 2,304 + 18 BN x 32;
  // stage 2: 4,608 + 17 x 9,216 + 18 BN x 64; stage 3: 18,432 + 17 x 36,864 + 18 BN x 128;
  // fc 650: 853,018. Option B projections: 16*32 + 2*32 + 32*64 + 2*64 = 2,752 -> 855,770.
  // MACs option A: 442,368 + 18 x 2,359,296 + (1,179,648 + 17 x 2,359,296) x 2 + 640
  // = 125,485,696; projections 256*32*16 + 64*64*32 = 262,144 -> 125,747,840.
  const s = summarize(buildArch('resnet56'));
  assert.ok(s.totals.params >= 0.85e6 && s.totals.params <= 0.86e6, `params ${s.totals.params}`);
  assert.ok(s.totals.macs >= 125e6 && s.totals.macs <= 127e6, `MACs ${s.totals.macs}`);
  assert.equal(s.totals.params, 855_770);
  assert.equal(s.totals.macs, 125_747_840);
  const g = buildArch('resnet56');
  const keys = keysOf(g);
  assert.deepEqual(keys.get('layer2.0.downsample.0.weight'), [32, 16, 1, 1]);
  assert.deepEqual(keys.get('layer3.8.conv2.weight'), [64, 64, 3, 3]);
  assert.equal(keys.has('layer1.0.downsample.0.weight'), false);
  assert.deepEqual(g.shape('layer3.8.relu2'), [64, 8, 8]);
  // depth 6n+2: 2n convs per stage
  for (const [depth, n] of [[20, 3], [32, 5], [110, 18]] as const) {
    const convs = buildArch(`resnet${depth}`).nodes.filter((x) => x.kind === 'conv2d' && !x.name.includes('downsample')).length;
    assert.equal(convs, 6 * n + 1);
  }
});

test('resnet18/34/50 (ImageNet): torchvision parameter counts and ~4.1 GMACs for resnet50', () => {
  const r50 = summarize(buildArch('resnet50'));
  assert.equal(r50.totals.params, 25_557_032);
  assert.ok(Math.abs(r50.totals.macs - 4.1e9) / 4.1e9 < 0.02, `MACs ${r50.totals.macs}`);
  assert.equal(summarize(buildArch('resnet18')).totals.params, 11_689_512);
  assert.equal(summarize(buildArch('resnet34')).totals.params, 21_797_672);
  const g = buildArch('resnet50');
  const keys = keysOf(g);
  assert.deepEqual(keys.get('conv1.weight'), [64, 3, 7, 7]);
  assert.deepEqual(keys.get('bn1.running_mean'), [64]);
  assert.deepEqual(keys.get('layer1.0.downsample.0.weight'), [256, 64, 1, 1]); // width change, stride 1
  assert.deepEqual(keys.get('layer2.0.conv2.weight'), [128, 128, 3, 3]);
  assert.deepEqual(keys.get('layer4.2.conv3.weight'), [2048, 512, 1, 1]);
  assert.deepEqual(keys.get('fc.weight'), [1000, 2048]);
  assert.equal(g.nodes.filter((x) => x.kind === 'conv2d').length, 53);
  assert.equal(g.nodes.filter((x) => x.kind === 'batchnorm2d').length, 53);
  // v1.5: the stride is on the 3x3 conv.
  assert.deepEqual(g.shape('layer2.0.conv1'), [128, 56, 56]);
  assert.deepEqual(g.shape('layer2.0.conv2'), [128, 28, 28]);
  assert.deepEqual(g.shape('maxpool'), [64, 56, 56]);
  assert.deepEqual(g.shape('layer4.2.relu3'), [2048, 7, 7]);
  assert.equal(keysOf(buildArch('resnet18')).has('layer1.0.downsample.0.weight'), false);
});

test('mobilenetv2: torchvision counts at 224/1000, CIFAR strides at 32', () => {
  const g = buildArch('mobilenetv2', { imageSize: 224, classes: 1000 });
  const s = summarize(g);
  assert.equal(s.totals.params, 3_504_872);
  assert.ok(Math.abs(s.totals.macs - 300e6) / 300e6 < 0.02, `MACs ${s.totals.macs}`);
  assert.deepEqual(g.shape('features.0.2'), [32, 112, 112]);
  assert.deepEqual(g.shape('features.18.2'), [1280, 7, 7]);
  const keys = keysOf(g);
  assert.deepEqual(keys.get('features.1.conv.0.0.weight'), [32, 1, 3, 3]); // t=1: depthwise first
  assert.deepEqual(keys.get('features.1.conv.1.weight'), [16, 32, 1, 1]);
  assert.deepEqual(keys.get('features.2.conv.0.0.weight'), [96, 16, 1, 1]);
  assert.deepEqual(keys.get('features.2.conv.1.0.weight'), [96, 1, 3, 3]);
  assert.deepEqual(keys.get('features.2.conv.2.weight'), [24, 96, 1, 1]);
  assert.deepEqual(keys.get('features.2.conv.3.running_var'), [24]);
  assert.deepEqual(keys.get('features.18.0.weight'), [1280, 320, 1, 1]);
  assert.deepEqual(keys.get('classifier.1.weight'), [1000, 1280]);
  // Residual adds: blocks with stride 1 and equal widths (1 + 2 + 3 + 2 + 2 of the 17).
  assert.equal(g.nodes.filter((n) => n.kind === 'add').length, 10);
  assert.equal(g.node('features.3.conv.1.0').attrs.groups, 144);

  const c = buildArch('mobilenetv2');
  assert.deepEqual(c.shape('features.0.2'), [32, 32, 32]);
  assert.deepEqual(c.shape('features.3.add'), [24, 32, 32]);
  assert.deepEqual(c.shape('features.18.2'), [1280, 4, 4]);
  assert.equal(summarize(c).totals.params, 3_504_872 - 1000 * 1281 + 10 * 1281);
  // _make_divisible: multiples of 8, never more than 10% below the scaled width.
  assert.deepEqual([makeDivisible(32 * 0.5), makeDivisible(24 * 0.75), makeDivisible(16 * 0.35), makeDivisible(1280 * 1.4), makeDivisible(96 * 0.35)], [16, 24, 8, 1792, 32]);
  const half = buildArch('mobilenetv2', { widthMultiplier: 0.5 });
  assert.deepEqual(half.shape('features.17.conv.3'), [160, 4, 4]); // block 17: no residual (160 -> 320 at full width)
  assert.deepEqual(half.shape('features.18.2'), [1280, 4, 4]);
});

test('densenet_cifar: DenseNet-BC-40 (k=12) counts by hand', () => {
  // Dense layer on c maps: norm1 2c, conv1 48c, norm2 96, conv2 48*12*9 = 5,184.
  // Block inputs 24..84, 48..108, 60..120 (sums 324, 468, 540): 6 x 5,280 + 50 x sum.
  // conv0 648 + 47,880 + transition1 (192 + 4,608) + 55,080 + transition2 (240 + 7,200)
  // + 58,680 + norm5 264 + fc 1,330 = 176,122.
  const g = buildArch('densenet_cifar');
  assert.equal(summarize(g).totals.params, 176_122);
  assert.deepEqual(g.shape('features.denseblock1.denselayer6.cat'), [96, 32, 32]);
  assert.deepEqual(g.shape('features.transition1.pool'), [48, 16, 16]);
  assert.deepEqual(g.shape('features.transition2.pool'), [60, 8, 8]);
  assert.deepEqual(g.shape('features.norm5'), [132, 8, 8]);
  const keys = keysOf(g);
  assert.deepEqual(keys.get('features.conv0.weight'), [24, 3, 3, 3]);
  assert.deepEqual(keys.get('features.denseblock2.denselayer3.conv1.weight'), [48, 72, 1, 1]);
  assert.deepEqual(keys.get('features.denseblock3.denselayer6.conv2.weight'), [12, 48, 3, 3]);
  assert.deepEqual(keys.get('features.transition2.conv.weight'), [60, 120, 1, 1]);
  assert.deepEqual(keys.get('classifier.weight'), [10, 132]);
});

// ---- every architecture runs ---------------------------------------------------------

/**
 * How each architecture is run. `run`: the options of the eval forward (the
 * defaults, but ImageNet-sized models at 32x32 to stay fast); `train`: the
 * options of the train-mode forward + backward, smaller images where the
 * architecture allows (the weights do not depend on the image size, so the
 * same tensors are reused).
 */
const PLAN: Record<string, { run?: ArchOptions; train?: ArchOptions }> = {
  resnet18: { run: { imageSize: 32 } },
  resnet34: { run: { imageSize: 32 } },
  resnet50: { run: { imageSize: 32 } },
};
// CIFAR models train on 16x16 (VGG's four pools need at least 16).
for (const n of ['vgg11', 'vgg13', 'vgg16', 'vgg19', 'resnet20', 'resnet32', 'resnet56', 'resnet110', 'mobilenetv2', 'densenet_cifar']) {
  PLAN[n] = { train: { imageSize: 16 } };
  if (n.startsWith('vgg')) PLAN[`${n}_bn`] = { train: { imageSize: 16 } };
}
const planFor = (name: string) => PLAN[name] ?? {};

const allFinite = (t: Tensor): boolean => t.isfinite().float().min().item() === 1;

function checkRuns(name: string, run: ArchOptions, train?: ArchOptions): void {
  const { inChannels, classes, imageSize } = { ...archDef(name).defaults, ...run };
  const model = Model.create(buildArch(name, run), { seed: 7 });
  let trained = model;
  try {
    tidy(() => {
      model.eval();
      const y = model.forward(randn([2, inChannels, imageSize, imageSize]));
      assert.deepEqual(y.shape, [2, classes], `${name} eval output`);
      assert.ok(allFinite(y), `${name}: non-finite eval output`);
    });
    if (train) trained = Model.fromTensors(buildArch(name, { ...run, ...train }), model.stateDict());
    const size = train?.imageSize ?? imageSize;
    tidy(() => {
      trained.train();
      const logits = trained.forward(randn([2, inChannels, size, size]));
      assert.deepEqual(logits.shape, [2, classes]);
      const loss = F.crossEntropy(logits, randint(0, classes, [2]));
      assert.ok(Number.isFinite(loss.item()), `${name}: loss ${loss.item()}`);
      loss.backward();
      let nonzero = 0;
      for (const [k, p] of trained.namedParameters()) {
        const gr: Tensor | null = p.grad;
        assert.ok(gr, `${name}: no gradient for ${k}`);
        assert.deepEqual(gr.shape, p.shape, k);
        assert.ok(allFinite(gr), `${name}: non-finite gradient for ${k}`);
        if (gr.abs().sum().item() > 0) nonzero++;
      }
      // Nearly every parameter must receive signal (a ReLU may silence a few on a batch of 2).
      assert.ok(nonzero >= 0.9 * trained.parameters().length, `${name}: only ${nonzero} parameters got a nonzero gradient`);
    });
  } finally {
    model.dispose();
    if (trained !== model) trained.dispose();
  }
}

test('every zoo architecture builds with its defaults and runs forward (eval) and backward (train)', () => {
  const names = archNames();
  for (const n of ['lenet5', 'vgg11', 'vgg11_bn', 'vgg13', 'vgg13_bn', 'vgg16', 'vgg16_bn', 'vgg19', 'vgg19_bn', 'resnet20', 'resnet32', 'resnet56', 'resnet110', 'resnet18', 'resnet34', 'resnet50', 'mobilenetv2', 'densenet_cifar']) {
    assert.ok(names.includes(n), `missing architecture ${n}`);
  }
  for (const name of names) {
    const d = archDef(name).defaults;
    const g = buildArch(name);
    assert.deepEqual(g.shape(g.outputs[0]!), [d.classes], `${name} default output shape`);
    assert.deepEqual(g.shape(g.inputs[0]!.name), [d.inChannels, d.imageSize, d.imageSize]);
    const p = planFor(name);
    const t0 = performance.now();
    checkRuns(name, p.run ?? {}, p.train);
    timings.push(`${name} ${(performance.now() - t0).toFixed(0)} ms`);
  }
});
const timings: string[] = [];
test.after(() => console.log(`zoo run times: ${timings.join(', ')}`));

test('options are honoured: channels, classes, image size, width multiplier', () => {
  for (const name of archNames()) {
    const d = archDef(name).defaults;
    const o = { inChannels: 1, classes: 7, imageSize: d.imageSize <= 64 ? 32 : 64, widthMultiplier: 0.5 };
    const g = buildArch(name, o);
    assert.deepEqual(g.shape(g.inputs[0]!.name), [1, o.imageSize, o.imageSize], name);
    assert.deepEqual(g.shape(g.outputs[0]!), [7], name);
    const full = summarize(buildArch(name, { ...o, widthMultiplier: 1 })).totals.params;
    const half = summarize(g).totals.params;
    assert.ok(half < 0.5 * full, `${name}: width 0.5 has ${half} params vs ${full}`);
  }
  // The ImageNet VGG head really runs (small width keeps the 7x7x512 fc cheap): 96x96 -> 3x3 maps, adaptive-pooled up to 7x7.
  checkRuns('vgg11_bn', { imageSize: 96, widthMultiplier: 0.125, classes: 5 });
  checkRuns('mobilenetv2', { imageSize: 96, widthMultiplier: 0.25, classes: 5 }, { imageSize: 64 });
});
