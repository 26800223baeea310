/**
 * The bad-input corpus through the file API, `aggregate(path, output, options)`, with 1 and 2
 * threads under both bad-row policies: the output and rejects files (or the EngineError) must be
 * the case's expected outcome, and a failed run must leave no output, no rejects file and
 * nothing in the temporary directory. Inputs under 64 KiB are aggregated on the calling thread
 * whatever the thread count (engine.corpus.threads.test.ts pads them to reach the threads);
 * the multi-megabyte ones are cut into 1 MiB ranges here.
 *
 * Gzip inputs and the cases with size limits also go through the stream input (an async
 * iterable), the path the HTTP service uses; a valid gzip also with a first chunk of one byte and
 * after an empty chunk (the gzip magic number must be recognized however the bytes arrive).
 */
import { afterAll, describe, it } from 'vitest'
import { CASES, POLICIES } from './cases.js'
import { removeRunDirectories, runFile, type StreamShape } from './file-run.js'
import { expectOutcome } from './support.js'

const isGzip = (bytes: Uint8Array) => bytes[0] === 0x1f && bytes[1] === 0x8b
const STREAM_SHAPES: StreamShape[] = ['blocks', 'first byte alone', 'empty first chunk']

afterAll(removeRunDirectories)

describe('bad-input corpus: aggregate() on files', () => {
  for (const c of CASES) {
    describe(`${c.name}: ${c.about}`, () => {
      for (const policy of POLICIES) {
        it(`on_error=${policy}: 1 and 2 threads`, async () => {
          const expected = c.expect[policy]
          for (const threads of [1, 2]) {
            expectOutcome(await runFile(c, policy, { threads }), expected, `${threads} thread(s)`)
          }
        })
        if (c.limits !== undefined) {
          it(`on_error=${policy}: as a stream`, async () => {
            expectOutcome(
              await runFile(c, policy, { threads: 1, stream: 'blocks' }),
              c.expect[policy],
              'stream input',
            )
          })
        }
        if (isGzip(c.bytes())) {
          // Engine bug when written: the gzip magic number is looked for in the first chunk only.
          for (const shape of c.name === 'gzip-valid' ? STREAM_SHAPES : STREAM_SHAPES.slice(0, 1)) {
            it(`on_error=${policy}: as a stream (${shape})`, async () => {
              expectOutcome(
                await runFile(c, policy, { threads: 1, stream: shape }),
                c.expect[policy],
                `stream input (${shape})`,
              )
            })
          }
        }
      }
    })
  }
})
