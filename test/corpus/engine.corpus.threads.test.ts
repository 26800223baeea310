/**
 * The small corpus inputs through the engine's worker threads. `aggregate()` reads inputs under
 * 64 KiB on the calling thread, so here each one gets 70,000 blank lines appended (they are not
 * rows, and no case's outcome depends on what follows its last line: `CorpusCase.pad`) and is
 * cut into 16 KiB ranges for 2 threads. Ranges start at guessed line starts, some inside a
 * quoted field left open; rejected rows are numbered across ranges.
 *
 * Starting threads costs a few hundred milliseconds, so each case runs under one policy,
 * alternating (the other policy runs on the calling thread in engine.corpus.file.test.ts).
 */
import { afterAll, describe, it } from 'vitest'
import { CASES, type CorpusCase, POLICIES } from './cases.js'
import { removeRunDirectories, runFile } from './file-run.js'
import { expectOutcome } from './support.js'

const PAD_LINES = 70_000
const isGzip = (bytes: Uint8Array) => bytes[0] === 0x1f && bytes[1] === 0x8b

/** Small plain inputs whose outcome does not change with blank lines at the end. */
const eligible = (c: CorpusCase) =>
  c.pad !== false && !isGzip(c.bytes()) && c.bytes().length < 64 * 1024 && c.limits === undefined

afterAll(removeRunDirectories)

describe('bad-input corpus: aggregate() with 2 threads (inputs padded with blank lines)', () => {
  CASES.filter(eligible).forEach((c, i) => {
    const policy = POLICIES[i % 2]!
    it(`${c.name} (on_error=${policy})`, async () => {
      const observed = await runFile(c, policy, {
        threads: 2,
        padBlankLines: PAD_LINES,
        minRangeBytes: 16 * 1024,
      })
      expectOutcome(observed, c.expect[policy], '2 threads, padded')
    })
  })
})
