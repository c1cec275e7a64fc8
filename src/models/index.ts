// The model zoo. Importing it registers every architecture.
import './lenet.js';

export { buildArch, archNames, archDef, defineArch, scaled, type ArchOptions, type ArchDef } from './registry.js';
