// LeNet variant of seed 003 (the thesis' reference network): conv 5x5 1->32
// 'same', max-pool 2, conv 5x5 32->64 'same', max-pool 2, fc 3136->1024,
// fc 1024->10, ReLU after each hidden layer.
import { GraphBuilder } from '../graph/index.js';
import { defineArch, scaled } from './registry.js';

defineArch({
  name: 'lenet5',
  description: 'LeNet variant of seed 003: 2 conv (5x5, 32/64 maps) + 2 fc (1024, classes), 28x28 input',
  defaults: { inChannels: 1, classes: 10, imageSize: 28, widthMultiplier: 1 },
  build(o) {
    const b = new GraphBuilder('lenet5');
    let x = b.input([o.inChannels, o.imageSize, o.imageSize]);
    x = b.maxpool2d(b.relu(b.conv2d(x, scaled(32, o), 5, { padding: 'same', name: 'conv1' }), { name: 'relu1' }), 2, { name: 'pool1' });
    x = b.maxpool2d(b.relu(b.conv2d(x, scaled(64, o), 5, { padding: 'same', name: 'conv2' }), { name: 'relu2' }), 2, { name: 'pool2' });
    x = b.flatten(x, { name: 'flatten' });
    x = b.relu(b.linear(x, scaled(1024, o), { name: 'fc1' }), { name: 'relu3' });
    x = b.linear(x, o.classes, { name: 'fc2' });
    return b.build(x);
  },
});
