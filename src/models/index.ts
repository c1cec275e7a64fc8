// The model zoo. Importing it registers every architecture.
import './lenet.js';
import './vgg.js';
import './resnet_imagenet.js';
import './resnet_cifar.js';
import './mobilenetv2.js';
import './densenet.js';

export { buildArch, archNames, archDef, defineArch, scaled, type ArchOptions, type ArchDef } from './registry.js';
export { vggFromCfg, vggHeadFor, VGG_CFGS, type VggCfg, type VggHead, type VggOptions } from './vgg.js';
export { basicBlock, bottleneck, convBn } from './resnet_imagenet.js';
export { makeDivisible, MOBILENETV2_SETTINGS } from './mobilenetv2.js';
export { DENSENET_CIFAR, type DenseNetConfig } from './densenet.js';
