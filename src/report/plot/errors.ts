// The one error type of the plotting module. Every message names the chart (its title)
// and the field at fault, and the series when one is to blame, so a report script that
// draws a dozen figures says which one and which curve went wrong.
import { SlimnetError } from '../../util/errors.js';
export class PlotError extends SlimnetError {
  override readonly name = 'PlotError';
  /** The chart's title (or the file name, for savePlot). */
  readonly chart: string;
  /** The spec field at fault: 'series', 'x', 'y', 'values', 'yRange', 'width', ... */
  readonly field: string;
  /** The series at fault, when the problem is in one series. */
  readonly series: string | undefined;
  constructor(chart: string, field: string, message: string, options?: { series?: string; cause?: unknown }) {
    const where = options?.series !== undefined ? `series "${options.series}" ${field}` : field;
    super(`plot "${chart}": ${where}: ${message}`, options?.cause !== undefined ? { cause: options.cause } : undefined);
    this.chart = chart;
    this.field = field;
    this.series = options?.series;
  }
}
