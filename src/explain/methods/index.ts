// Every explanation method registers itself on import; this file imports them
// all so that the registry is complete wherever src/explain is imported.
import './gradcam.js';
import './gradcampp.js';
import './layercam.js';
import './scorecam.js';
import './saliency.js';
import './gradxinput.js';
import './ig.js';
import './smoothgrad.js';
import './gradientshap.js';
import './occlusion.js';
import './lime.js';
import './kernelshap.js';
