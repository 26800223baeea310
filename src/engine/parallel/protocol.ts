/**
 * The messages between the coordinating thread and the worker threads. Plain data only: group
 * tables and dictionaries travel as SharedArrayBuffer-backed views (shared, not copied).
 */

import type { RejectSummary } from '../aggregator.js'
import type { DictionarySnapshot } from '../dictionary.js'
import type { SerializedEngineError } from '../errors.js'
import type { GroupTableSnapshot } from '../group-table.js'
import type { ColumnLayout } from '../header.js'
import type { AggregateOptions, OutputOrder } from '../spec.js'
import type { SpillSource } from '../spill.js'
import type { ExchangeRings } from './row-exchange.js'

/** Aggregate the rows that start in `[start, stop)` of the input (the first may start later). */
export interface ParseTask {
  /** A file holding the input's bytes from `fileOffset` on (all of it, or a slice). */
  path: string
  fileOffset: number
  /** The file ends where the input does; otherwise reaching its end leaves the range `short`. */
  inputEnd: boolean
  start: number
  stop: number
  layout: ColumnLayout
  options: AggregateOptions
  partitions: number
  maxRowBytes: number | undefined
  /** Where to spool rejected rows; undefined to count them only. */
  rejectsPath: string | undefined
  /** Memory budget for this range's groups; past it they spill to disk. */
  memoryBytes: number
  /** Spill file prefix: partition p goes to `${spillPrefix}-${p}.bin`. */
  spillPrefix: string
  /** Write every group to the spill files at the end, even within the budget (parts). */
  spillAll?: boolean
  /**
   * Hand plain rows of partitions other threads own to them, and take theirs (see
   * row-exchange.ts). Every range of the chain must then run at once, one per thread.
   */
  exchange?: ExchangeRings
}

/** `[offset, bytes]` of a section of a part file. */
export type Section = [number, number]

export interface StoredTableSections {
  size: number
  records: Section
  firsts: Section
  bigSums: [number, string][]
}

/** A group table left in its part file (`part-file.ts`) until a merge thread needs it. */
export interface StoredTable extends StoredTableSections {
  path: string
}

export interface ParsedGroups {
  dictionaries: (DictionarySnapshot | undefined)[]
  /**
   * One table per partition: in memory, or still in a part file (read when merged); null once a
   * thread no longer needs it (so memory can go).
   */
  tables: (GroupTableSnapshot | StoredTable | null)[]
}

export interface ParseResult {
  groups: ParsedGroups
  bytes: number
  rows: number
  rejected: number
  /** LF bytes from `start` to `endOffset`. */
  lines: number
  /** Start of the first row not taken: the next range must begin exactly here. */
  endOffset: number
  /** With line numbers counted from the range start (0). */
  firstRejects: RejectSummary[]
  /** How many times the groups were written to disk. */
  spillCount: number
  /** Spill file per partition (null for a partition never spilled). */
  spills: (string | null)[]
  /** The file ended before the range's last row did (a slice cut too short); nothing else holds. */
  short: boolean
}

/**
 * Merge the partitions a worker owns (`worker`, `worker + threads`, ...) of every range's groups
 * and put them in output order: shared with the write tasks, or, when groups spilled, written
 * one partition at a time as sorted runs.
 */
export interface MergeTask {
  worker: number
  threads: number
  partitions: number
  sources: ParsedGroups[]
  /** Per partition, its spilled groups from every range or part. */
  spills: SpillSource[][]
  /** Some range spilled: merge and write one partition at a time, each as its own run. */
  spilled: boolean
  layout: ColumnLayout
  order: OutputOrder
  /** The spec's `escapeFormulas`: formulas in text values are written as text. */
  escapeFormulas: boolean
  /** Spilled: partition p's run goes to `${runsPath}-${p}` (rows) and `.keys` beside it. */
  runsPath: string
}

export interface MergeResult {
  groups: number
  /** Not spilled: the merged groups, in output order. */
  merged: MergedShare | undefined
  /** Spilled: the sorted runs written, to be combined. */
  runs: SortedRun[]
}

/** A thread's merged groups in output order, for every thread's write task (shared memory). */
export interface MergedShare {
  tables: GroupTableSnapshot[]
  /** Per column, its dictionary's layers (`ByteDictionary.layers`); undefined for dates. */
  dictionaries: (DictionarySnapshot[] | undefined)[]
  /** The groups in output order, as `table index << 24 | group index`. */
  refs: Uint32Array
  /**
   * With several threads, every `SAMPLE_EVERY`-th group of `refs`: its merge key, and the bytes
   * of the output rows before it, so a write task can start in the middle.
   */
  samples: MergedSample[]
  /** With several threads, each text column's `dictionaryFieldBytes` (undefined for dates). */
  fieldBytes: (Int32Array | undefined)[]
}

export interface MergedSample {
  key: Uint8Array
  rowBytesBefore: number
}

/**
 * Write, in place in `outputPath` (an existing file), the rows of every thread's merged groups
 * whose merge keys fall in `[from, to)` (unbounded when unset), after the header and the rows
 * before `from`. The first task (`from` unset) writes the header.
 */
export interface WriteTask {
  shares: MergedShare[]
  order: OutputOrder
  escapeFormulas: boolean
  headerBytes: Uint8Array
  from: Uint8Array | undefined
  to: Uint8Array | undefined
  outputPath: string
}

export interface WriteResult {
  bytes: number
}

/** A file of rows in output order, with their merge keys in a file beside it. */
export interface SortedRun {
  rowsPath: string
  keysPath: string
  /** Every so many rows, where the row sits: so a combine can start in the middle of the run. */
  samples: RunSample[]
}

export interface RunSample {
  /** The row's merge key (see `writeMergeKey`): runs are ordered by these bytes. */
  key: Uint8Array
  keysOffset: number
  rowsOffset: number
}

/**
 * Interleave the runs' rows whose merge keys fall in `[from, to)` (unbounded when unset) into
 * `outputPath`. Several combine tasks with adjacent ranges write the output in pieces, in
 * parallel; each run is read from a sample at or before `from`.
 */
export interface CombineTask {
  parts: { rowsPath: string; keysPath: string; keysOffset: number; rowsOffset: number }[]
  order: OutputOrder
  /** The output's header: written by the first piece's task (`from` unset), skipped by others. */
  headerBytes: Uint8Array
  from: Uint8Array | undefined
  to: Uint8Array | undefined
  /**
   * An existing file every task writes its piece into, in place: a piece starts after the
   * header and every row before its first key, which the task counts while skipping them.
   */
  outputPath: string
}

export interface CombineResult {
  bytes: number
}

export type Task =
  | { type: 'parse'; task: ParseTask }
  | { type: 'merge'; task: MergeTask }
  | { type: 'combine'; task: CombineTask }
  | { type: 'write'; task: WriteTask }

export type ToWorker = Task & { id: number }

export interface ProgressMessage {
  type: 'progress'
  id: number
  bytes: number
  rows: number
  rejected: number
  groups: number
}

export type FromWorker =
  | ProgressMessage
  | { type: 'done'; id: number; result: ParseResult | MergeResult | CombineResult | WriteResult }
  | { type: 'failed'; id: number; error: SerializedError }

export type SerializedError =
  | ({ kind: 'engine' } & SerializedEngineError)
  | { kind: 'internal'; message: string; stack: string | undefined }
