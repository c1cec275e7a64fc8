// Importing this module registers every built-in node kind.
import './structure.js';
import './conv.js';
import './norm.js';
import './linear.js';
import './activation.js';
import './pool.js';
import './merge.js';
import './scale.js';

export { conv2dGeometry, convTranspose2dGeometry, explicitPadding, type Conv2dGeometry, type ConvTranspose2dGeometry } from './conv.js';
export { bnFeatures, lrnParams } from './norm.js';
export { linearGeometry } from './linear.js';
export { poolGeometry, type PoolGeometry } from './pool.js';
export { concatAxis, broadcast } from './merge.js';
export { softmaxAxis } from './activation.js';
export { scaleFeatures, scaleView } from './scale.js';
export { channelShuffleGroups, channelSliceRange, pad2dParams } from './structure.js';
