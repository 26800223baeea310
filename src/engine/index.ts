/**
 * The engine's public surface. The engine imports only Node built-ins and its own files: it
 * knows nothing of HTTP, queues or storage (see README.md in this folder).
 */
export { Aggregator, type AggregatorOptions, type RejectedRow } from './aggregator.js'
export {
  EngineError,
  type EngineErrorCode,
  FILE_ERROR_CODES,
  isEngineError,
  ROW_ERROR_CODES,
} from './errors.js'
export {
  aggregatePart,
  type CsvHeader,
  expectedStart,
  type MergePartsOptions,
  mergeParts,
  type PartInput,
  type PartOptions,
  type PartOutcome,
  type PartSummary,
  partChainBreak,
  readCsvHeader,
  readPartSummary,
} from './parallel/parts.js'
export type { AggregateProgress } from './progress.js'
export { REJECTS_HEADER } from './rejects.js'
export type { AggregateSummary } from './result.js'
export { type AggregateInput, type AggregateRunOptions, aggregate } from './run.js'
export {
  type AggregateOptions,
  type AggregateSpec,
  BOOLEAN_TEXTS,
  createSpec,
  DEFAULT_GROUP_BY,
  DEFAULT_SUM,
  DEFAULT_TOTAL_COLUMN,
  ON_ERRORS,
  ORDERS,
  parseEscapeFormulas,
} from './spec.js'
export { aggregateSync, type SyncResult } from './sync.js'
