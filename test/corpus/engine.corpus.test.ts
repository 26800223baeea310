/**
 * The bad-input corpus through `aggregateSync`, under both bad-row policies: the whole input and
 * several chunkings (1, 2, 3, 5 and 13 bytes and random cuts for small inputs, which split every
 * BOM, CRLF, `""` and multi-byte character somewhere; random blocks for the multi-megabyte ones)
 * must all give the case's expected outcome. The reference aggregator must agree with the
 * hand-written expectation wherever it covers the case (and the input is not too large for it).
 *
 * `aggregate()` on files and streams is in engine.corpus.file.test.ts.
 */
import { describe, expect, it } from 'vitest'
import { aggregateSync, isEngineError } from '../../src/engine/index.js'
import { chunksOf, randomChunks, seededRandom } from '../support/chunks.js'
import { CASES, type CorpusCase, POLICIES, type Policy, syncOutcomes } from './cases.js'
import { expectOutcome, expectReferenceAgrees, type Observed } from './support.js'

/** Inputs up to this size get the byte-level chunkings. */
const SMALL = 64 * 1024
/**
 * The reference walks the input one character at a time: past this size it is too slow for a
 * test file (the expectations of the large cases are built from the same strings as the input).
 */
const REFERENCE_MAX_BYTES = 2 * 1024 * 1024

function runSync(input: Uint8Array | Uint8Array[], c: CorpusCase, policy: Policy): Observed {
  try {
    const result = aggregateSync(input, { onError: policy, order: c.order })
    expect(result.summary.rowsRejected, 'summary counts every rejected row').toBe(
      result.rejected.length,
    )
    return {
      ok: true,
      csv: result.csv.toString('utf8'),
      rejects: result.rejected.map((r) => [r.line, r.code]),
    }
  } catch (error) {
    if (!isEngineError(error)) throw error
    return { ok: false, code: error.code, line: error.line, message: error.message }
  }
}

function chunkings(bytes: Uint8Array, name: string): [string, Uint8Array[]][] {
  if (bytes.length <= SMALL) {
    return [
      ...[1, 2, 3, 5, 13].map((size): [string, Uint8Array[]] => [
        `chunks of ${size}`,
        chunksOf(bytes, size),
      ]),
      ...[1, 2, 3].map((seed): [string, Uint8Array[]] => [
        `random chunks (seed ${seed})`,
        randomChunks(bytes, seededRandom(seed * 7919 + name.length), 40),
      ]),
    ]
  }
  return [
    ['random chunks up to 4 MiB', randomChunks(bytes, seededRandom(name.length), 4 * 1024 * 1024)],
  ]
}

describe('bad-input corpus: aggregateSync', () => {
  it('has at least 40 named cases, each name once', () => {
    expect(CASES.length).toBeGreaterThanOrEqual(40)
    expect(new Set(CASES.map((c) => c.name)).size).toBe(CASES.length)
  })

  for (const c of CASES) {
    describe(`${c.name}: ${c.about}`, () => {
      for (const policy of POLICIES) {
        it(`on_error=${policy}: whole and in chunks`, () => {
          const expected = syncOutcomes(c)[policy]
          const bytes = c.bytes()
          expectOutcome(runSync(bytes, c, policy), expected, 'whole input')
          for (const [label, chunks] of chunkings(bytes, c.name)) {
            expectOutcome(runSync(chunks, c, policy), expected, label)
          }
        })
      }
      if (c.reference !== false && c.bytes().length <= REFERENCE_MAX_BYTES) {
        it('the reference aggregator agrees with the expectation', () => {
          for (const policy of POLICIES) expectReferenceAgrees(c, policy, syncOutcomes(c)[policy])
        })
      }
    })
  }
})
