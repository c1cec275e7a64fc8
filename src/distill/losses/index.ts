// The distillation losses: importing this module defines every loss, so the
// registry is complete; it re-exports the registry's API.
import './kd.js';
import './logits.js';
import './hint.js';
import './at.js';
import './sp.js';
import './dkd.js';

export * from './registry.js';
export { dkdWarmupFactor } from './dkd.js';
