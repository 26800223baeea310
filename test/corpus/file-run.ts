/**
 * Runs a corpus case through the file API, `aggregate(input, output, options)`, in a fresh
 * directory, and reduces the run to an `Observed`: the output and rejects files as written, or
 * the EngineError. Also checks what every run must leave behind: the output and rejects files
 * only on success, nothing partial next to them, nothing in the temporary directory.
 */
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { expect } from 'vitest'
import { aggregate, isEngineError } from '../../src/engine/index.js'
import { chunksOf } from '../support/chunks.js'
import type { CorpusCase, Policy } from './cases.js'
import { type Observed, rejectsOfFile } from './support.js'

export type StreamShape = 'blocks' | 'first byte alone' | 'empty first chunk'

function streamChunks(bytes: Uint8Array, shape: StreamShape): Uint8Array[] {
  if (shape === 'blocks') return chunksOf(bytes, 64 * 1024)
  if (shape === 'empty first chunk') return [new Uint8Array(0), ...chunksOf(bytes, 64 * 1024)]
  return [bytes.subarray(0, 1), ...chunksOf(bytes.subarray(1), 64 * 1024)]
}

export interface FileRunOptions {
  threads: number
  /**
   * Feed the bytes as an async iterable instead of a file path: in 64 KiB chunks, or with the
   * first byte alone in the first chunk, or after an empty chunk (as network streams may).
   */
  stream?: StreamShape
  /** Blank lines appended to the input (they change no outcome; see `CorpusCase.pad`). */
  padBlankLines?: number
  minRangeBytes?: number
}

let root: string | undefined
let runs = 0

/** A fresh directory under one root per test file (see `removeRunDirectories`). */
function freshDir(): string {
  root ??= mkdtempSync(join(tmpdir(), 'tally-corpus-'))
  const dir = join(root, `run-${++runs}`)
  mkdirSync(join(dir, 'temp'), { recursive: true })
  return dir
}

/** Removes every run's directory: call it once the test file is done. */
export function removeRunDirectories(): void {
  if (root) rmSync(root, { recursive: true, force: true, maxRetries: 3 })
  root = undefined
}

export function paddedBytes(c: CorpusCase, blankLines: number | undefined): Uint8Array {
  const bytes = c.bytes()
  if (!blankLines) return bytes
  return Buffer.concat([bytes, Buffer.alloc(blankLines, 0x0a)])
}

export async function runFile(
  c: CorpusCase,
  policy: Policy,
  options: FileRunOptions,
): Promise<Observed> {
  const dir = freshDir()
  const tempDir = join(dir, 'temp')
  const inputPath = join(dir, c.fileName ?? 'input.csv')
  const outputPath = join(dir, 'out.csv')
  const rejectsPath = join(dir, 'rejects.csv')
  const bytes = paddedBytes(c, options.padBlankLines)
  writeFileSync(inputPath, bytes)
  const shape = options.stream
  const input = shape
    ? (async function* () {
        for (const chunk of streamChunks(bytes, shape)) yield chunk
      })()
    : inputPath
  let observed: Observed
  try {
    await aggregate(input, outputPath, {
      onError: policy,
      order: c.order,
      rejects: rejectsPath,
      threads: options.threads,
      tempDir,
      minRangeBytes: options.minRangeBytes ?? 1024 * 1024,
      maxInputBytes: c.limits?.maxInputBytes,
      maxRowBytes: c.limits?.maxRowBytes,
    })
    expect(existsSync(outputPath), 'the output file exists').toBe(true)
    expect(existsSync(rejectsPath), 'the rejects file exists').toBe(true)
    const rejects = rejectsOfFile(readFileSync(rejectsPath, 'utf8'))
    if (policy === 'fail') expect(rejects, 'no rejects under on_error=fail').toEqual([])
    observed = { ok: true, csv: readFileSync(outputPath, 'utf8'), rejects }
  } catch (error) {
    if (!isEngineError(error)) throw error
    observed = { ok: false, code: error.code, line: error.line, message: error.message }
    expect(existsSync(outputPath), 'no output file after a failure').toBe(false)
    expect(existsSync(rejectsPath), 'no rejects file after a failure').toBe(false)
  }
  const left = readdirSync(dir).filter(
    (name) => !['temp', 'out.csv', 'rejects.csv', c.fileName ?? 'input.csv'].includes(name),
  )
  expect(left, 'nothing partial left next to the output').toEqual([])
  expect(readdirSync(tempDir), 'the temporary directory is left empty').toEqual([])
  return observed
}
