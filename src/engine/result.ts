/** What a finished aggregation reports, and the checks made once all rows are in. */
import type { RejectSummary } from './aggregator.js'
import { EngineError, rowErrorMessage } from './errors.js'

export interface AggregateSummary {
  /** Bytes of CSV read (after decompression), header included. */
  bytesRead: number
  /** Data rows read: accepted plus rejected. Blank lines are not rows. */
  rowsRead: number
  rowsRejected: number
  groups: number
  outputBytes: number
  rejectsBytes: number
  /** How many times groups outgrew the memory budget and were written to disk (0: never). */
  spills: number
}

/** A file with data rows that were all rejected fails: an output of nothing would mislead. */
export function assertSomeRowsValid(
  rowsRead: number,
  rowsRejected: number,
  firstRejects: readonly RejectSummary[],
): void {
  if (rowsRead === 0 || rowsRejected < rowsRead) return
  const reasons = firstRejects.map((r) => rowErrorMessage(r.line, r.column, r.reason))
  const first = firstRejects[0]
  throw new EngineError(
    'CSV_NO_VALID_ROWS',
    `all ${rowsRead} data row${rowsRead === 1 ? ' was' : 's were'} rejected; first: ${reasons.join('; ')}`,
    { line: first?.line, column: first?.column },
  )
}
