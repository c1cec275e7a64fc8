// Progressive replacement (seed 001): convolutions blended with a parallel
// 1×1 branch while α goes from 1 to 0, then removed or merged.
export { ReplaceError } from './errors.js';
export { BRANCH_INITS, alphaOf, attachBranches, blendName, branchInName, branchName, branchRank, finishReplacement, lowRankFactors, narrowRank, originalKeys, reduceName, replaceability, replacedConvs, setAlpha, type AttachOptions, type BranchInit } from './branch.js';
export { DEFAULT_EXP_FLOOR, SCHEDULE_KINDS, alphaSequence, parseSchedule, scheduleText, type Schedule } from './schedule.js';
export { candidates, selectConvs, type Candidate, type Selection } from './select.js';
export { fitBranches, type BranchFit } from './fit.js';
