/** Worker side of a parse task: read a byte range of the file into a partitioned aggregator. */
import { closeSync, openSync, readSync } from 'node:fs'
import { Aggregator } from '../aggregator.js'
import { RejectSpoolWriter } from '../rejects-spool.js'
import { createSpec } from '../spec.js'
import { spillTable } from '../spill.js'
import { collectGarbageOver } from './garbage.js'
import type { ParseResult, ParseTask } from './protocol.js'
import { RowExchange } from './row-exchange.js'

const READ_BYTES = 1 << 20
const PROGRESS_EVERY_READS = 8
const GARBAGE_CHECK_EVERY_READS = 8

export type RangeProgress = (bytes: number, rows: number, rejected: number, groups: number) => void

export function parseRange(task: ParseTask, onProgress: RangeProgress): ParseResult {
  const spec = createSpec(task.options)
  const spool = task.rejectsPath === undefined ? undefined : new RejectSpoolWriter(task.rejectsPath)
  const isDate = Uint8Array.from(task.layout.groupKinds, (k) => (k === 'date' ? 1 : 0))
  const exchange = task.exchange && new RowExchange(task.exchange, task.partitions, isDate)
  const aggregator = new Aggregator(spec, {
    layout: task.layout,
    startOffset: task.start,
    stopOffset: task.stop,
    firstLine: 0,
    partitions: task.partitions,
    maxRowBytes: task.maxRowBytes,
    onReject: spool?.write,
    foreign: exchange?.foreign,
  })
  const spills: (string | null)[] = Array.from({ length: task.partitions }, () => null)
  let spillCount = 0
  const spill = () => {
    const state = aggregator.state()
    state.tables.forEach((table, p) => {
      if (table.size === 0) return
      const path = `${task.spillPrefix}-${p}.bin`
      spills[p] = path
      spillTable(path, table, state.dictionaries)
    })
    spillCount++
    aggregator.resetGroups()
  }
  const fd = openSync(task.path, 'r')
  try {
    let position = task.start - task.fileOffset
    for (let reads = 1; !aggregator.done; reads++) {
      const target = aggregator.reserve(READ_BYTES)
      const n = readSync(fd, target, aggregator.writeOffset, READ_BYTES, position)
      if (n === 0) break
      position += n
      aggregator.commit(n)
      exchange?.step((rows) => aggregator.addForeign(rows))
      if (aggregator.groupBytes > task.memoryBytes) spill()
      if (reads % GARBAGE_CHECK_EVERY_READS === 0) collectGarbageOver(aggregator.arrayBytes)
      if (reads % PROGRESS_EVERY_READS === 0) {
        const c = aggregator.counters
        onProgress(c.bytes, c.rows, c.rejected, aggregator.groupCount)
      }
    }
    if (!aggregator.done && !task.inputEnd) {
      // The part is read again with more bytes; the other threads must not wait for this one.
      exchange?.abandon()
      return shortResult(spills)
    }
    aggregator.end()
    exchange?.finish((rows) => {
      aggregator.addForeign(rows)
      if (aggregator.groupBytes > task.memoryBytes) spill()
    })
    collectGarbageOver(aggregator.arrayBytes)
    let state = aggregator.state()
    const spillRest = task.spillAll
      ? aggregator.groupCount > 0
      : spillCount > 0 && aggregator.groupBytes > task.memoryBytes / 2
    if (spillRest) {
      spill()
      state = aggregator.state()
    }
    return {
      groups: {
        dictionaries: state.dictionaries.map((d) => d?.snapshot()),
        tables: state.tables.map((t) => t.snapshot()),
      },
      bytes: state.counters.bytes,
      rows: state.counters.rows,
      rejected: state.counters.rejected,
      lines: state.lines,
      endOffset: state.endOffset,
      firstRejects: state.firstRejects,
      spills,
      spillCount,
      short: false,
    }
  } catch (error) {
    // The other threads must not wait for this one.
    exchange?.abandon()
    throw error
  } finally {
    closeSync(fd)
    spool?.close()
  }
}

function shortResult(spills: (string | null)[]): ParseResult {
  return {
    groups: { dictionaries: [], tables: [] },
    bytes: 0,
    rows: 0,
    rejected: 0,
    lines: 0,
    endOffset: 0,
    firstRejects: [],
    spills,
    spillCount: 0,
    short: true,
  }
}
