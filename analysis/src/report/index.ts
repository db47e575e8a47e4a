export {
  type CurvePanel,
  curvesSpec,
  delayHeatmapSpec,
  type PhaseFigure,
  phaseDiagramSpec,
} from './figures.js';
export { escapeHtml } from './html.js';
export {
  type AxisHints,
  type ReportInput,
  type ReportTrial,
  reportInputSchema,
  reportTrialSchema,
  resolveAxes,
} from './input.js';
export {
  REFERENCE_REPORT_FILES,
  type ReferenceFigures,
  type ReferenceReportResult,
  referenceFigures,
  writeReferenceReport,
} from './reference-report.js';
export { type RegressionPageInput, type RegressionSide, writeRegressionPage } from './regression-page.js';
export { renderSvg, svgToPng } from './render.js';
export { CELL_PHASES, PHASE_COLORS } from './style.js';
export {
  REPORT_FILES,
  type WriteReportOptions,
  type WriteReportResult,
  writeReport,
} from './write-report.js';
