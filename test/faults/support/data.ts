/** Generated inputs for the fault tests and their exact expected outputs (the engine's own). */
import { generateSongPlaysChunks } from '../../../src/cli/generate-data.js'

export { engineOutput } from '../../http/support/service.js'

/**
 * Song plays, about 30 bytes a row. Many songs and days give many distinct groups, hence a
 * large result (nearly one output row per input row when `songs * days` is much over `rows`).
 */
export function plays(rows: number, seed: number, songs = 2000, days = 60): Buffer {
  return Buffer.concat([...generateSongPlaysChunks({ rows, songs, days, seed, badRowRate: 0 })])
}
