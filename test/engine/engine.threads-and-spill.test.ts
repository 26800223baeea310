/**
 * A generated file of tens of MB: every thread count, with and without spilling to disk, gives
 * byte-identical output and rejects, in both orders, and the same as the in-memory engine.
 * The file holds quoted names (commas, quotes), non-ASCII names and bad rows of every kind.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { generateSongPlays } from '../../src/cli/generate-data.js'
import { aggregate, aggregateSync } from '../../src/engine/index.js'

let dir: string
let input: string
let bytes: Buffer

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tally-threads-'))
  input = join(dir, 'plays.csv')
  const chunks: Uint8Array[] = []
  await generateSongPlays(
    { rows: 800_000, songs: 40_000, days: 365, seed: 7, badRowRate: 0.001 },
    (chunk) => {
      chunks.push(chunk)
    },
  )
  bytes = Buffer.concat(chunks)
  writeFileSync(input, bytes)
})

afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe.each(['first_seen', 'sorted'] as const)('order %s', (order) => {
  let expected: { csv: Buffer; rejects: Buffer; groups: number }

  beforeAll(() => {
    const result = aggregateSync(bytes, { order })
    expected = { csv: result.csv, rejects: result.rejectsCsv, groups: result.summary.groups }
  })

  it('is a file of tens of MB with many groups and some rejected rows', () => {
    expect(bytes.length).toBeGreaterThan(20_000_000)
    expect(expected.groups).toBeGreaterThan(300_000)
    expect(expected.rejects.toString().split('\n').length).toBeGreaterThan(100)
  })

  for (const threads of [1, 2, 3]) {
    for (const memoryMb of [undefined, 8]) {
      const label = `${threads} thread(s), ${memoryMb ? `spilling past ${memoryMb} MiB` : 'in memory'}`
      it(`gives the same bytes with ${label}`, async () => {
        const output = join(dir, `out-${order}-${threads}-${memoryMb}.csv`)
        const rejects = join(dir, `rejects-${order}-${threads}-${memoryMb}.csv`)
        const summary = await aggregate(input, output, {
          order,
          threads,
          memoryMb,
          rejects,
          minRangeBytes: 1024 * 1024,
          tempDir: dir,
        })
        expect(summary.groups).toBe(expected.groups)
        if (memoryMb) expect(summary.spills).toBeGreaterThan(0)
        else expect(summary.spills).toBe(0)
        expect(readFileSync(output).equals(expected.csv)).toBe(true)
        expect(readFileSync(rejects).equals(expected.rejects)).toBe(true)
      })
    }
  }
})
