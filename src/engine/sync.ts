/**
 * Aggregates a CSV held in memory, on the calling thread: the reference shell around the push
 * parser, used by tests and small inputs. Files go through `aggregate` (run.ts).
 */
import { type AggregateState, Aggregator, type RejectedRow } from './aggregator.js'
import { groupOrder } from './order.js'
import { type ByteSink, ByteWriter, writeGroups, writeHeader } from './output.js'
import { RejectsWriter } from './rejects.js'
import { type AggregateSummary, assertSomeRowsValid } from './result.js'
import { type AggregateOptions, type AggregateSpec, createSpec } from './spec.js'

export interface SyncResult {
  csv: Buffer
  rejectsCsv: Buffer
  rejected: RejectedRow[]
  summary: AggregateSummary
}

/**
 * The output of an aggregator that ran with one partition: checks that some rows were valid,
 * then writes the header and the groups in order to `sink`. Returns the writer (its counts).
 */
export function writeSingleTable(
  state: AggregateState,
  spec: AggregateSpec,
  sink: ByteSink,
): ByteWriter {
  assertSomeRowsValid(state.counters.rows, state.counters.rejected, state.firstRejects)
  const out = new ByteWriter(sink)
  writeHeader(out, state.layout!, spec.totalColumn, spec.escapeFormulas)
  const table = state.tables[0]!
  const order = groupOrder(table, state.dictionaries, spec.order)
  writeGroups(out, table, state.dictionaries, order, spec.escapeFormulas)
  out.flush()
  return out
}

export function aggregateSync(
  input: Uint8Array | readonly Uint8Array[],
  options: AggregateOptions = {},
): SyncResult {
  const spec = createSpec(options)
  const rejected: RejectedRow[] = []
  const rejectChunks: Uint8Array[] = []
  const rejects = new RejectsWriter((chunk) => rejectChunks.push(chunk), spec)
  const aggregator = new Aggregator(spec, {
    onReject: (row) => {
      rejected.push(row)
      rejects.write(row)
    },
  })
  for (const chunk of input instanceof Uint8Array ? [input] : input) aggregator.push(chunk)
  const state = aggregator.end()
  const chunks: Uint8Array[] = []
  const out = writeSingleTable(state, spec, (chunk) => chunks.push(chunk))
  const table = state.tables[0]!
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
