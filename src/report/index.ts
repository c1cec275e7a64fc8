// Reporting: the one number formatter, text tables (including the
// before/after table every command prints), the per-layer channel report
// of a pruned model, and plots (SVG rendered to PNG).
export * from './format.js';
export * from './table.js';
export * from './channels.js';
export * from './plot.js';
