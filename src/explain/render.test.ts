// The overlay drawing: the bilinear resize equals libtorch's F.interpolate
// (align_corners false), colour maps hit their ends, one scale per method is
// signed only when a value is negative, the overlay is alpha 0.5 over the
// image, and the grid is a PNG of the laid-out size. report.html embeds and
// escapes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { F, tensor, tidy } from '../tensor/index.js';
import { bilinearResize, cellZoom, colormap, colorScale, overlayCell, renderGrid, scaleText } from './render.js';
import { explainHtml } from './html.js';

test('bilinearResize equals F.interpolate (bilinear, align_corners false), up and down', () => {
  const map = Float32Array.from({ length: 7 * 5 }, (_, i) => Math.sin(i * 1.7) * 3);
  for (const [oh, ow] of [[28, 28], [13, 9], [3, 2], [7, 5]] as const) {
    const ours = bilinearResize(map, 7, 5, oh, ow);
    const ref = tidy(() => F.interpolate(tensor(map, [1, 1, 7, 5]), { size: [oh, ow], mode: 'bilinear', alignCorners: false }).data<'float32'>());
    assert.equal(ours.length, ref.length);
    for (let i = 0; i < ref.length; i++) assert.ok(Math.abs(ours[i]! - ref[i]!) < 1e-5, `${oh}x${ow} at ${i}: ${ours[i]} vs ${ref[i]}`);
  }
});

test('colour maps, the shared scale and the alpha-0.5 overlay', () => {
  assert.deepEqual(colormap('inferno', 0), [0, 0, 4]);
  assert.deepEqual(colormap('inferno', 1), [252, 255, 164]);
  assert.deepEqual(colormap('inferno', 7), [252, 255, 164], 'clamped');
  assert.deepEqual(colormap('inferno', NaN), [0, 0, 4]);
  assert.deepEqual(colormap('coolwarm', 0.5), [221, 221, 221], 'grey at 0 of a signed map');
  assert.deepEqual(colorScale([Float32Array.of(0, 2), Float32Array.of(1, 0.5)]), { map: 'inferno', min: 0, max: 2 });
  assert.deepEqual(colorScale([Float32Array.of(0, 2), Float32Array.of(-3, 0.5)]), { map: 'coolwarm', min: -3, max: 3 });
  assert.deepEqual(colorScale([new Float32Array(4)]), { map: 'inferno', min: 0, max: 1 }, 'an all-zero method still has a scale');
  // A white pixel under the top of inferno: (255 + 252) / 2 ... ; a black one under the bottom: (0 + 0) / 2 ...
  const img = { data: Float32Array.of(1, 0), channels: 1, height: 1, width: 2 };
  const cell = overlayCell(img, Float32Array.of(2, 0), 1, 2, { map: 'inferno', min: 0, max: 2 }, 2);
  assert.equal(cell.width, 4);
  assert.equal(cell.height, 2);
  assert.deepEqual([...cell.data.subarray(0, 3)], [254, 255, 210]);
  assert.deepEqual([...cell.data.subarray(6, 9)], [0, 0, 2]);
  assert.equal(cellZoom(28, 28), 3);
  assert.equal(cellZoom(224, 224), 1);
  assert.equal(scaleText(0.0123456), '0.0123');
  assert.equal(scaleText(-2e-5), '-2.0e-5');
});

test('renderGrid draws rows of images and one column per model and method into a PNG', async () => {
  const img = (v: number) => ({ data: new Float32Array(8 * 8).fill(v), channels: 1, height: 8, width: 8 });
  const map = (v: number) => Float32Array.from({ length: 4 }, (_, i) => v * i);
  const png = await renderGrid({
    title: 'test',
    images: [img(0.2), img(0.8)],
    rowLabels: ['#0\nlabel 1', '#1\nlabel 2'],
    captions: [{ a: 'class 1', b: 't 1 (pred 2)' }, { a: 'class 2', b: 'class 2' }],
    methods: [
      { name: 'gradcam', scale: colorScale([map(1), map(2)]), columns: [{ model: 'a', maps: [map(1), map(2)], height: 2, width: 2 }, { model: 'b', maps: [map(1), map(2)], height: 2, width: 2 }] },
      { name: 'ig', scale: colorScale([map(-1)]), columns: [{ model: 'a', maps: [map(-1), map(1)], height: 2, width: 2 }, { model: 'b', maps: [map(-1), map(1)], height: 2, width: 2 }] },
    ],
  });
  const meta = await sharp(png).metadata();
  assert.equal(meta.format, 'png');
  // 5 columns of 88 px (8 px x zoom 11) after the label column; 2 rows.
  assert.ok(meta.width! > 5 * 88 && meta.height! > 2 * 88, `${meta.width}x${meta.height}`);
});

test('report.html embeds figures as data URIs, escapes text and has no script', () => {
  const html = explainHtml({
    title: 'a <b> & c',
    facts: [['model a', 'x.safetensors']],
    warnings: ['a: gradcam: all-negative CAM'],
    sections: [{ heading: 'H', paragraphs: ['p'], figures: [{ caption: 'c', png: Uint8Array.of(1, 2, 3), alt: 'g' }], tables: [{ caption: 't', headers: ['x', 'y'], rows: [['<i>', 0.5]] }] }],
  });
  assert.ok(html.includes('<img src="data:image/png;base64,AQID"'));
  assert.ok(html.includes('a &lt;b&gt; &amp; c'));
  assert.ok(html.includes('<td>&lt;i&gt;</td><td class="n">0.5</td>'));
  assert.ok(html.includes('all-negative CAM'));
  assert.doesNotMatch(html, /<script/);
});
