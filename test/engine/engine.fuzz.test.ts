/**
 * Bounded fuzzing of the engine with fast-check (the long run is `npm run fuzz`): arbitrary
 * bytes, generated CSV files mutated in their quotes, commas, line ends and digits, and the
 * generated files as they are. The engine must never throw anything but an EngineError, never
 * hang, keep its counts consistent, give the same outcome however the input is cut, and equal
 * the reference aggregator wherever the reference's rules cover the input. A few cases also go
 * through the file API with worker threads, which must equal `aggregateSync`. The properties are
 * in test/fuzz/properties.ts.
 */
import fc from 'fast-check'
import { afterAll, describe, it } from 'vitest'
import {
  arbitraryBytesInput,
  checkArbitraryBytes,
  checkFileApi,
  checkMutatedCsv,
  checkValidCsv,
  cleanUpFileRuns,
  fileApiInput,
  mutatedCsvInput,
  validCsvInput,
} from '../fuzz/properties.js'

afterAll(() => {
  cleanUpFileRuns()
})

describe('engine fuzzing (bounded)', () => {
  it('arbitrary bytes, alone or after a valid header: only EngineErrors, consistent counts', () => {
    fc.assert(fc.property(arbitraryBytesInput, checkArbitraryBytes), { numRuns: 4000 })
  })

  it('mutated valid files: only EngineErrors, and the reference result when it accepts them', () => {
    fc.assert(fc.property(mutatedCsvInput, checkMutatedCsv), { numRuns: 3000 })
  })

  it('valid files: the reference result, whole and in random chunkings', () => {
    fc.assert(fc.property(validCsvInput, checkValidCsv), { numRuns: 800 })
  })

  it('the file API with 2 to 4 threads, spilling or not: what aggregateSync gives', async () => {
    // Each case starts worker threads: a handful here, more in `npm run fuzz`.
    await fc.assert(fc.asyncProperty(fileApiInput, checkFileApi), { numRuns: 5 })
  })
})
