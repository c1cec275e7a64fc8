// Moved to src/report/channels.ts (a feature: workflows use it); kept here
// for the commands that still import it from the CLI.
export { channelTable, writeChannelReport, type ChannelRow } from '../../report/channels.js';
