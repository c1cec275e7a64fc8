// Versioned run directories: the Run object (run.ts) over the file layout (files.ts).
export * from './files.js';
export { Run, toCsv, type RunIdentity } from './run.js';
