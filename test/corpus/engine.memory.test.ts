/**
 * Hostile inputs must not make the engine hold memory out of proportion to them. A header row
 * of 48 MiB of commas (48 million empty names; 48 KiB once gzipped, so an upload limit does not
 * stop it) must be refused (CSV_MISSING_COLUMNS: over 100,000 fields) without holding much more
 * than the row itself: here at most 3 bytes per input byte plus 100 MiB.
 *
 * Measured in a child process (peak resident set size), so that the test runner's own memory
 * does not count.
 */
import { execFile } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { gzipSync } from 'node:zlib'
import { afterAll, describe, expect, it } from 'vitest'

const run = promisify(execFile)
const root = mkdtempSync(join(tmpdir(), 'tally-memory-'))
const PROBE = join(import.meta.dirname, 'memory-probe.ts')
const MB = 1024 * 1024

afterAll(() => {
  rmSync(root, { recursive: true, force: true })
})

async function peakMemory(input: Buffer): Promise<{ code: string; growthMb: number }> {
  const dir = mkdtempSync(join(root, 'run-'))
  mkdirSync(join(dir, 'temp'))
  const path = join(dir, 'input.csv.gz')
  writeFileSync(path, input)
  const { stdout } = await run(
    process.execPath,
    ['--import', 'tsx', PROBE, path, join(dir, 'out.csv'), join(dir, 'temp')],
    { cwd: join(import.meta.dirname, '../..'), timeout: 60_000 },
  )
  const probe = JSON.parse(stdout) as { code: string; startRssMb: number; peakRssMb: number }
  return { code: probe.code, growthMb: probe.peakRssMb - probe.startRssMb }
}

describe('memory in proportion to the input', () => {
  it('a 48 MiB header row of commas: refused, holding at most 3x its size + 100 MiB', async () => {
    const size = 48 * MB
    const { code, growthMb } = await peakMemory(gzipSync(Buffer.alloc(size, 0x2c)))
    expect(code).toBe('CSV_MISSING_COLUMNS')
    expect(growthMb, `peak memory growth ${Math.round(growthMb)} MiB`).toBeLessThan(
      (3 * size) / MB + 100,
    )
  })
})
