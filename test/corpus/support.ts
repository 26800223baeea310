/**
 * Running corpus cases and comparing what happened with what the case expects, for the engine
 * and the CLI tests. What a run gives is reduced to an `Observed`: the output CSV and the
 * rejected rows (line and code), or the error code, line and message.
 */
import { expect } from 'vitest'
import { parseCsv } from '../support/parse-csv.js'
import { isReferenceFailure, referenceAggregate } from '../support/reference.js'
import type { CorpusCase, Outcome, Policy } from './cases.js'

export type Observed =
  | { ok: true; csv: string; rejects: [number, string][] }
  | { ok: false; code: string; line: number | undefined; message: string }

const REJECTS_HEADER = ['Line', 'Code', 'Column', 'Reason', 'Raw Row']

/** [line, code] of each row of a rejects file, after checking its header. */
export function rejectsOfFile(text: string): [number, string][] {
  const rows = parseCsv(text)
  expect(rows[0], 'rejects file header').toEqual(REJECTS_HEADER)
  return rows.slice(1).map((row) => {
    expect(row, 'rejects file row').toHaveLength(REJECTS_HEADER.length)
    return [Number(row[0]), row[1]!]
  })
}

/** Where two long strings first differ, short enough for a test failure message. */
function firstDifference(actual: string, expected: string): string {
  let i = 0
  while (i < actual.length && i < expected.length && actual[i] === expected[i]) i++
  const show = (s: string) => JSON.stringify(s.slice(Math.max(0, i - 40), i + 40))
  return `lengths ${actual.length} (actual) vs ${expected.length} (expected); first difference at ${i}: actual ${show(actual)}, expected ${show(expected)}`
}

/** A message a user can read: one line, short, no stack frames. */
export function expectReadableMessage(message: string, label: string): void {
  expect(message.length, `${label}: message length`).toBeGreaterThan(0)
  expect(message.length, `${label}: message is short (${message.slice(0, 200)})`).toBeLessThan(1000)
  expect(message, `${label}: message is one line`).not.toMatch(/[\r\n]/)
  expect(message, `${label}: no stack trace in the message`).not.toContain('    at ')
}

/** Asserts that `observed` is the `expected` outcome. */
export function expectOutcome(observed: Observed, expected: Outcome, label: string): void {
  if ('error' in expected) {
    const got = observed.ok
      ? `success with ${observed.rejects.length} rejects and output ${JSON.stringify(observed.csv.slice(0, 200))}`
      : observed.code
    expect(got, `${label}: error code`).toBe(expected.error)
    if (observed.ok) return
    if (expected.line !== undefined)
      expect(observed.line, `${label}: error line`).toBe(expected.line)
    expectReadableMessage(observed.message, label)
    return
  }
  if (!observed.ok) {
    expect.fail(
      `${label}: expected success, got ${observed.code} (line ${observed.line}): ${observed.message}`,
    )
    return
  }
  if (observed.csv !== expected.csv) {
    expect.fail(`${label}: output differs: ${firstDifference(observed.csv, expected.csv)}`)
  }
  expect(observed.rejects, `${label}: rejected rows`).toEqual(
    expected.rejects.map(([line, code]) => [line, code]),
  )
}

/** What the reference aggregator computes for a case, as an `Outcome`. */
export function referenceOutcome(c: CorpusCase, policy: Policy): Outcome {
  const result = referenceAggregate(c.bytes(), { onError: policy, order: c.order })
  if (isReferenceFailure(result)) {
    return result.line === undefined
      ? { error: result.error as never }
      : { error: result.error as never, line: result.line }
  }
  return {
    csv: result.csv,
    rejects: result.rejects.map((r) => [r.line, r.code as never] as const),
  }
}

/**
 * The reference's outcome compared with the case's: same code (and line when both give one),
 * or the same output and rejects.
 */
export function expectReferenceAgrees(c: CorpusCase, policy: Policy, expected: Outcome): void {
  const reference = referenceOutcome(c, policy)
  if ('error' in expected && 'error' in reference) {
    expect(reference.error, 'reference error code').toBe(expected.error)
    if (expected.line !== undefined && reference.line !== undefined) {
      expect(reference.line, 'reference error line').toBe(expected.line)
    }
    return
  }
  if ('error' in reference) expect.fail(`the reference fails with ${reference.error}`)
  if ('error' in expected) expect.fail(`the reference succeeds, expected ${expected.error}`)
  if (reference.csv !== expected.csv) {
    expect.fail(`reference output differs: ${firstDifference(reference.csv, expected.csv)}`)
  }
  expect(reference.rejects, 'reference rejects').toEqual(expected.rejects)
}

/** Runs `tasks` with at most `limit` of them at a time; results in the order of `tasks`. */
export async function inPool<T>(limit: number, tasks: (() => Promise<T>)[]): Promise<T[]> {
  const results = new Array<T>(tasks.length)
  let next = 0
  const worker = async () => {
    while (next < tasks.length) {
      const i = next++
      results[i] = await tasks[i]!()
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, tasks.length) }, worker))
  return results
}
