/**
 * Runs `aggregateSync` and reduces what it returns (or throws) to plain data that tests can
 * compare: with a hand-written expectation, with the reference aggregator, and with itself fed
 * the same bytes in other chunkings.
 */
import { expect } from 'vitest'
import { type AggregateSummary, aggregateSync, isEngineError } from '../../src/engine/index.js'
import { chunksOf } from './chunks.js'
import {
  isReferenceFailure,
  type ReferenceOptions,
  type ReferenceResult,
  referenceAggregate,
} from './reference.js'

export type TestOptions = ReferenceOptions

export interface OutcomeReject {
  line: number
  code: string
  column: string | undefined
  /** The raw row as a Latin-1 string (one character per byte). */
  raw: string
}

export type EngineOutcome =
  | {
      ok: true
      csv: string
      rejectsCsv: string
      rejects: OutcomeReject[]
      summary: AggregateSummary
    }
  | {
      ok: false
      code: string
      line: number | undefined
      column: string | undefined
      message: string
    }

/** A rejected row as written in hand-made expectations: line, code and column name. */
export type RejectTuple = [line: number, code: string, column?: string]

export type Expected =
  | { csv: string; rejects?: RejectTuple[] }
  | { error: string; line?: number; column?: string }

export function bytesOf(input: string | Uint8Array): Uint8Array {
  return typeof input === 'string' ? Buffer.from(input, 'utf8') : input
}

/** The engine's result for `input`, or the EngineError it threw. Other errors propagate. */
export function runEngine(
  input: Uint8Array | readonly Uint8Array[],
  options: TestOptions = {},
): EngineOutcome {
  try {
    const result = aggregateSync(input, options)
    return {
      ok: true,
      csv: result.csv.toString('utf8'),
      rejectsCsv: result.rejectsCsv.toString('utf8'),
      rejects: result.rejected.map((r) => ({
        line: r.line,
        code: r.code,
        column: r.column,
        raw: Buffer.from(r.raw).toString('latin1'),
      })),
      summary: result.summary,
    }
  } catch (error) {
    if (!isEngineError(error)) throw error
    return {
      ok: false,
      code: error.code,
      line: error.line,
      column: error.column,
      message: error.message,
    }
  }
}

/**
 * Runs the engine on `input` whole, then in chunks of every size from 1 byte up to
 * `maxChunkSize` (default: the input's length), asserts every run gives the same outcome, and
 * returns it.
 */
export function runInEveryChunking(
  input: string | Uint8Array,
  options: TestOptions = {},
  maxChunkSize?: number,
): EngineOutcome {
  const bytes = bytesOf(input)
  const whole = runEngine(bytes, options)
  for (let size = 1; size <= (maxChunkSize ?? bytes.length); size++) {
    const chunked = runEngine(chunksOf(bytes, size), options)
    expect(chunked, `input in chunks of ${size} bytes`).toEqual(whole)
  }
  // Empty chunks between the bytes must not matter either.
  const withEmpty = chunksOf(bytes, 2).flatMap((c) => [new Uint8Array(0), c])
  expect(runEngine(withEmpty, options), 'input with empty chunks').toEqual(whole)
  return whole
}

function toTuple(r: { line: number; code: string; column: string | undefined }): RejectTuple {
  return r.column === undefined ? [r.line, r.code] : [r.line, r.code, r.column]
}

function referenceAsExpected(result: ReferenceResult): Expected {
  if (isReferenceFailure(result)) return result
  return { csv: result.csv, rejects: result.rejects.map(toTuple) }
}

function engineAsExpected(outcome: EngineOutcome): Expected {
  if (!outcome.ok) return { error: outcome.code, line: outcome.line, column: outcome.column }
  return { csv: outcome.csv, rejects: outcome.rejects.map(toTuple) }
}

/** A failure is compared by its code, and by line and column when the expectation names them. */
function comparable(result: Expected, like: Expected): Expected {
  if (!('error' in result)) return result
  const failure: { error: string; line?: number; column?: string } = { error: result.error }
  if ('error' in like && 'line' in like) failure.line = result.line
  if ('error' in like && 'column' in like) failure.column = result.column
  return failure
}

function normalizeExpected(expected: Expected): Expected {
  if ('error' in expected) return expected
  return { csv: expected.csv, rejects: expected.rejects ?? [] }
}

/**
 * The main assertion of the hand-written rule tests: the expected outcome written by hand is
 * what the reference aggregator computes (so the oracle is checked too), what the engine gives
 * for the whole input, and what it gives in every chunking.
 */
export function expectAggregation(
  input: string | Uint8Array,
  options: TestOptions,
  expected: Expected,
): EngineOutcome {
  const want = normalizeExpected(expected)
  const reference = referenceAsExpected(referenceAggregate(input, options))
  expect(comparable(reference, want), 'reference aggregator').toEqual(want)
  const whole = runEngine(bytesOf(input), options)
  expect(comparable(engineAsExpected(whole), want), 'engine, whole input').toEqual(want)
  runInEveryChunking(input, options)
  return whole
}

/** The engine's outcome compared with the reference's, as plain data for `toEqual`. */
export function compareWithReference(
  input: Uint8Array,
  options: TestOptions,
  chunks?: readonly Uint8Array[],
): { engine: unknown; reference: unknown } {
  const reference = referenceAggregate(input, options)
  const outcome = runEngine(chunks ?? input, options)
  if (isReferenceFailure(reference)) {
    const engine = outcome.ok
      ? { csv: outcome.csv, rejects: outcome.rejects }
      : {
          error: outcome.code,
          line: reference.line === undefined ? undefined : outcome.line,
          column: reference.column === undefined ? undefined : outcome.column,
        }
    return {
      engine,
      reference: { error: reference.error, line: reference.line, column: reference.column },
    }
  }
  const engine = outcome.ok
    ? {
        csv: outcome.csv,
        rejects: outcome.rejects,
        rowsRead: outcome.summary.rowsRead,
        rowsRejected: outcome.summary.rowsRejected,
        groups: outcome.summary.groups,
        bytesRead: outcome.summary.bytesRead,
      }
    : { error: outcome.code, line: outcome.line, column: outcome.column, message: outcome.message }
  return {
    engine,
    reference: {
      csv: reference.csv,
      rejects: reference.rejects,
      rowsRead: reference.rowsRead,
      rowsRejected: reference.rejects.length,
      groups: reference.groups,
      bytesRead: input.length,
    },
  }
}

/** CSV text from rows: each row followed by LF. */
export function lines(...rows: string[]): string {
  return rows.map((row) => `${row}\n`).join('')
}
