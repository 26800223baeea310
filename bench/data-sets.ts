/**
 * The benchmark's data sets, generated once and cached outside the repository in
 * `${XDG_CACHE_HOME:-~/.cache}/tally-bench/`, one file per parameter set. The file name holds
 * every parameter and the generator version, so a change to either makes a new file.
 */
import { closeSync, existsSync, openSync, renameSync, rmSync, statSync, writeSync } from 'node:fs'
import { mkdir } from 'node:fs/promises'
import { homedir } from 'node:os'
import { join } from 'node:path'
import { GENERATOR_VERSION, generateSongPlays } from '../src/cli/generate-data.js'

export interface DataSet {
  name: string
  rows: number
  songs: number
  days: number
  seed: number
}

const SEED = 42

export const DATA_SETS: readonly DataSet[] = [
  { name: 'S', rows: 200_000, songs: 5_000, days: 365, seed: SEED },
  { name: 'M', rows: 10_000_000, songs: 50_000, days: 365, seed: SEED },
  { name: 'L', rows: 30_000_000, songs: 100_000, days: 365, seed: SEED },
  { name: 'H', rows: 10_000_000, songs: 2_000_000, days: 365, seed: SEED },
]

export function cacheDir(): string {
  const base = process.env.XDG_CACHE_HOME || join(homedir(), '.cache')
  return join(base, 'tally-bench')
}

export function dataSetPath(set: DataSet): string {
  const key = `song-plays-v${GENERATOR_VERSION}-r${set.rows}-s${set.songs}-d${set.days}-seed${set.seed}`
  return join(cacheDir(), `${key}.csv`)
}

export interface PreparedDataSet {
  path: string
  bytes: number
  /** Set when the file was made by this call. */
  generated?: { seconds: number }
}

/** The cached file for `set`, generated first if missing (under a temporary name, then renamed). */
export async function prepareDataSet(set: DataSet): Promise<PreparedDataSet> {
  const path = dataSetPath(set)
  if (existsSync(path)) return { path, bytes: statSync(path).size }
  await mkdir(cacheDir(), { recursive: true })
  const partial = `${path}.${process.pid}.partial`
  const fd = openSync(partial, 'w')
  const started = performance.now()
  try {
    await generateSongPlays(set, (chunk) => {
      let at = 0
      while (at < chunk.length) at += writeSync(fd, chunk, at, chunk.length - at)
    })
    closeSync(fd)
    renameSync(partial, path)
  } catch (error) {
    closeSync(fd)
    rmSync(partial, { force: true })
    throw error
  }
  const seconds = (performance.now() - started) / 1000
  return { path, bytes: statSync(path).size, generated: { seconds } }
}
