// Errors of the command line: the usage error is the library's (src/util/errors.ts).
export { UsageError, SlimnetError } from '../util/errors.js';
