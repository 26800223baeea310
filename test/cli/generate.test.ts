import { execFile } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { gunzipSync } from 'node:zlib'
import { describe, expect, it } from 'vitest'
import { type GenerateOptions, generateSongPlays, songName } from '../../src/cli/generate.js'
import { aggregateSync } from '../../src/engine/index.js'

const run = promisify(execFile)

async function generate(options: GenerateOptions): Promise<{ bytes: Buffer; badRows: number }> {
  const chunks: Uint8Array[] = []
  const summary = await generateSongPlays(options, (chunk) => {
    chunks.push(chunk)
  })
  const bytes = Buffer.concat(chunks)
  expect(summary.bytes).toBe(bytes.length)
  return { bytes, badRows: summary.badRows }
}

/** RFC 4180 records of a CSV without line breaks inside fields (the generator writes none). */
function parseLines(csv: string): string[][] {
  const lines = csv.split('\n')
  expect(lines.pop()).toBe('')
  return lines.map((line) => {
    const fields: string[] = []
    let at = 0
    for (;;) {
      if (line[at] === '"') {
        let value = ''
        let i = at + 1
        for (;;) {
          const close = line.indexOf('"', i)
          expect(close).toBeGreaterThan(-1)
          value += line.slice(i, close)
          if (line[close + 1] !== '"') {
            at = close + 1
            break
          }
          value += '"'
          i = close + 2
        }
        fields.push(value)
      } else {
        const end = line.indexOf(',', at)
        fields.push(line.slice(at, end === -1 ? line.length : end))
        at = end === -1 ? line.length : end
      }
      if (at >= line.length) return fields
      expect(line[at]).toBe(',')
      at++
    }
  })
}

const base: GenerateOptions = { rows: 20_000, songs: 1_000, days: 365, seed: 7 }

describe('generateSongPlays', () => {
  it('writes the same bytes for the same seed, whatever the chunk size', async () => {
    const a = await generate(base)
    const b = await generate({ ...base, chunkBytes: 4096 })
    expect(b.bytes.equals(a.bytes)).toBe(true)
  })

  it('writes different bytes for a different seed', async () => {
    const a = await generate(base)
    const b = await generate({ ...base, seed: 8 })
    expect(b.bytes.equals(a.bytes)).toBe(false)
  })

  it('writes the header, the rows asked for, LF line ends and dates in range', async () => {
    const { bytes } = await generate({ ...base, days: 31 })
    const text = bytes.toString('utf8')
    expect(text.startsWith('Song,Date,Number of Plays\n')).toBe(true)
    expect(text.includes('\r')).toBe(false)
    const [header, ...rows] = parseLines(text)
    expect(header).toEqual(['Song', 'Date', 'Number of Plays'])
    expect(rows).toHaveLength(base.rows)
    const odd = rows.filter(
      ([song, date, plays]) =>
        song === '' ||
        !(date >= '2020-01-01' && date <= '2020-01-31') ||
        !/^(0|[1-9]\d*)$/.test(plays),
    )
    expect(odd).toEqual([])
    expect(new Set(rows.map((r) => r[1])).size).toBe(31)
  })

  it('writes a header only for zero rows', async () => {
    const { bytes } = await generate({ ...base, rows: 0 })
    expect(bytes.toString()).toBe('Song,Date,Number of Plays\n')
  })

  it('makes song popularity Zipf-like and rows unsorted', async () => {
    const { bytes } = await generate(base)
    const rows = parseLines(bytes.toString('utf8')).slice(1)
    const perSong = new Map<string, number>()
    for (const [song] of rows) perSong.set(song, (perSong.get(song) ?? 0) + 1)
    const counts = [...perSong.values()].sort((a, b) => b - a)
    const median = counts[Math.floor(counts.length / 2)]
    // With s = 1 over 1,000 songs the top song takes about 13 % of rows, the median one 0.03 %.
    expect(counts[0]).toBeGreaterThan(50 * median)
    expect(counts[0] / rows.length).toBeGreaterThan(0.08)
    const dates = rows.map((r) => r[1])
    expect(dates).not.toEqual([...dates].sort())
  })

  it('quotes song names with commas and quotes, and writes non-ASCII names', async () => {
    const { bytes } = await generate(base)
    const text = bytes.toString('utf8')
    const rows = parseLines(text).slice(1)
    expect(rows.some(([song]) => song.includes(','))).toBe(true)
    expect(rows.some(([song]) => song.includes('"'))).toBe(true)
    expect(text.includes('""')).toBe(true)
    expect(rows.some(([song]) => /[^\x20-\x7e]/.test(song))).toBe(true)
  })

  it('gives distinct names, about 3 % of them needing quotes', () => {
    const names = Array.from({ length: 300_000 }, (_, id) => songName(id))
    expect(new Set(names).size).toBe(names.length)
    const sample = names.slice(0, 20_000)
    const quoted = sample.filter((n) => /[",]/.test(n)).length / sample.length
    expect(quoted).toBeGreaterThan(0.02)
    expect(quoted).toBeLessThan(0.04)
    const nonAscii = sample.filter((n) => /[^\x20-\x7e]/.test(n)).length / sample.length
    expect(nonAscii).toBeGreaterThan(0.03)
    expect(names.every((n) => n === n.trim() && n !== '')).toBe(true)
  })

  it('aggregates with the engine: every row read, none rejected, totals add up', async () => {
    const { bytes } = await generate(base)
    const rows = parseLines(bytes.toString('utf8')).slice(1)
    const { csv, summary } = aggregateSync(bytes, { onError: 'skip' })
    expect(summary.rowsRead).toBe(base.rows)
    expect(summary.rowsRejected).toBe(0)
    expect(summary.groups).toBe(new Set(rows.map(([song, date]) => `${song}\n${date}`)).size)
    const totals = parseLines(csv.toString('utf8')).slice(1)
    const sum = (values: string[]) => values.reduce((acc, v) => acc + BigInt(v), 0n)
    expect(sum(totals.map((r) => r[2]))).toBe(sum(rows.map((r) => r[2])))
  })

  it('replaces about the fraction of rows asked for with bad ones, which the engine rejects', async () => {
    const rate = 0.05
    const clean = await generate(base)
    const dirty = await generate({ ...base, badRowRate: rate })
    expect(dirty.badRows).toBeGreaterThan(base.rows * rate * 0.8)
    expect(dirty.badRows).toBeLessThan(base.rows * rate * 1.2)
    const { summary, rejected } = aggregateSync(dirty.bytes, { onError: 'skip' })
    expect(summary.rowsRead).toBe(base.rows)
    expect(summary.rowsRejected).toBe(dirty.badRows)
    const kinds = new Set(rejected.map((r) => r.code))
    for (const code of ['CSV_FIELD_COUNT', 'CSV_EMPTY_VALUE', 'CSV_BAD_DATE', 'CSV_BAD_NUMBER']) {
      expect(kinds).toContain(code)
    }
    // Bad rows replace rows of the clean file; the other rows stay as they were.
    const cleanLines = clean.bytes.toString('utf8').split('\n')
    const dirtyLines = dirty.bytes.toString('utf8').split('\n')
    expect(dirtyLines).toHaveLength(cleanLines.length)
    const changed = dirtyLines.filter((line, i) => line !== cleanLines[i]).length
    expect(changed).toBe(dirty.badRows)
  })

  it('rejects options out of range', async () => {
    const sink = () => {}
    await expect(generateSongPlays({ ...base, songs: 0 }, sink)).rejects.toThrow(RangeError)
    await expect(generateSongPlays({ ...base, rows: 1.5 }, sink)).rejects.toThrow(/rows/)
    await expect(generateSongPlays({ ...base, badRowRate: 2 }, sink)).rejects.toThrow(/bad-row/)
  })
})

describe('tally generate', () => {
  it('writes the generated bytes to a gzip file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tally-generate-'))
    try {
      const file = join(dir, 'plays.csv.gz')
      const args = ['--rows', '2k', '--songs', '300', '--days', '30', '--seed', '5', '-o', file]
      await run(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'generate', ...args])
      const expected = await generate({ rows: 2000, songs: 300, days: 30, seed: 5, badRowRate: 0 })
      expect(gunzipSync(await readFile(file)).equals(expected.bytes)).toBe(true)
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})
