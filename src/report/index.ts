// Reporting: the one number formatter, text tables (including the
// before/after table every command prints) and plots (SVG rendered to PNG).
export * from './format.js';
export { renderTable, beforeAfterTable, type BeforeAfterRow } from './table.js';
export * from './plot.js';
