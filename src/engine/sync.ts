/**
 * Aggregates a CSV held in memory, on the calling thread: the reference shell around the push
 * parser, used by tests and small inputs. Large files go through `aggregateFile`.
 */
import { Aggregator, type RejectedRow } from './aggregator.js'
import { groupOrder } from './order.js'
import { ByteWriter, writeGroups, writeHeader } from './output.js'
import { RejectsWriter } from './rejects.js'
import { type AggregateSummary, assertSomeRowsValid } from './result.js'
import { type AggregateOptions, createSpec } from './spec.js'

export interface SyncResult {
  csv: Buffer
  rejectsCsv: Buffer
  rejected: RejectedRow[]
  summary: AggregateSummary
}

export function aggregateSync(
  input: Uint8Array | readonly Uint8Array[],
  options: AggregateOptions = {},
): SyncResult {
  const spec = createSpec(options)
  const rejected: RejectedRow[] = []
  const rejectChunks: Uint8Array[] = []
  const rejects = new RejectsWriter((chunk) => rejectChunks.push(chunk))
  const aggregator = new Aggregator(spec, {
    onReject: (row) => {
      rejected.push(row)
      rejects.write(row)
    },
  })
  for (const chunk of input instanceof Uint8Array ? [input] : input) aggregator.push(chunk)
  const state = aggregator.end()
  assertSomeRowsValid(state.counters.rows, state.counters.rejected, state.firstRejects)
  const chunks: Uint8Array[] = []
  const out = new ByteWriter((chunk) => chunks.push(chunk))
  writeHeader(out, state.layout!, spec.totalColumn)
  const table = state.tables[0]!
  writeGroups(out, table, state.dictionaries, groupOrder(table, state.dictionaries, spec.order))
  out.flush()
  rejects.end()
  const rejectsCsv = Buffer.concat(rejectChunks)
  return {
    csv: Buffer.concat(chunks),
    rejectsCsv,
    rejected,
    summary: {
      bytesRead: state.counters.bytes,
      rowsRead: state.counters.rows,
      rowsRejected: state.counters.rejected,
      groups: table.size,
      outputBytes: out.bytesWritten,
      rejectsBytes: rejectsCsv.length,
      spills: 0,
    },
  }
}
