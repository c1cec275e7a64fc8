// Charts as SVG, written as PNG (or SVG): line, grouped bar and histogram plots for
// training curves and pruning reports. Dependency-free apart from sharp for rasterising.
export { PlotError } from './plot/errors.js';
export { niceTicks, logTicks, formatTick, allIntegers, type TickOptions } from './plot/ticks.js';
export { PALETTE, escapeXml } from './plot/svg.js';
export { linePlot, AUTO_MARKER_POINTS, type LinePlotSpec, type LineSeries, type HLine, type PointLabel } from './plot/line.js';
export { MARKER_SHAPES, type MarkerShape } from './plot/markers.js';
export { barPlot, type BarPlotSpec, type BarSeries } from './plot/bar.js';
export { histogramPlot, computeHistogram, type HistogramSpec, type HistogramSeries, type Histogram } from './plot/histogram.js';
export { savePlot } from './plot/save.js';
export { seedSpreadPlot, type SpreadGroup } from './plot/spread.js';
