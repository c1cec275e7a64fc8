// Studies: experiment grids that reproduce a seed's results and report them.
// `thesis` is seed 003's pruning laboratory (LeNet, thesis ch. 3.4 and 4).
export { THESIS_RECIPE, trainForIterations, type Recipe, type RecipeHooks, type RecipeResult } from './recipe.js';
export { FAMILIES, GLOBAL, RETRAIN_NORM, StudyError, checkGrid, describe, familyExperiments, largestIters, thesisGrid, type Experiment, type Family, type GridSettings, type LayerSize } from './grid.js';
export { baseChannels, runCurve, scopeGroups, scopeShare, type Curve, type CurveHooks, type CurveOptions, type CurvePoint } from './curve.js';
export { calibrate, planStudy, stepUnits, type Calibration, type FamilyPlan, type StudyPlan } from './plan.js';
export { auc, bestCriterion, rankCriteria, rankIters, rankNorms, rankProtocols, type RankEntry, type Ranking } from './ranking.js';
export { table41, type Table41, type Table41Data, type Table41Hooks, type Table41Options, type Table41Row } from './table41.js';
export { criterionLabel, renderFigures, thesisFigures, type Figure, type FigureContext, type FigureSeries } from './figures.js';
export { STUDY_FILES, curvesCsv, duration, readCurves, resultsJson, table41Csv, table41RowJson, writeProgress, writeStudyReport, type ReportInput, type StudyMeta } from './report.js';
export { PARTS, checkOptions, doneUnits, planThesis, rankAll, runThesisStudy, thesisSettings, type Part, type Rankings, type StudyData, type TableSettings, type ThesisHooks, type ThesisOptions, type ThesisResult } from './thesis.js';
