/**
 * `npm run bench:parts`: what splitting one file into parts costs the engine itself, without
 * Redis, S3 or HTTP: the file aggregated whole (`aggregate`, all threads) against the same file
 * in parts (`aggregatePart` on each slice at once, one thread each, as separate workers would)
 * and merged (`mergeParts`). Outputs verified byte-identical; times to stdout and
 * bench/results/parts-latest.md.
 *
 *   npm run bench:parts -- [--size S|M|L|H] [--parts N]
 */
import { createHash } from 'node:crypto'
import { createReadStream, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { DATA_SETS, prepareDataSet } from './data-sets.js'

// The built engine, as `tally` runs it (`npm run bench:parts` builds first).
const built = new URL('../dist/engine/index.js', import.meta.url).href
const engine = (await import(built)) as typeof import('../src/engine/index.js')

const { values } = parseArgs({
  options: { size: { type: 'string', default: 'L' }, parts: { type: 'string' } },
})
const set = DATA_SETS.find((s) => s.name === values.size)
if (!set) throw new Error(`--size must be one of ${DATA_SETS.map((s) => s.name).join(', ')}`)
const cores = availableParallelism()
const count = Number(values.parts ?? cores)
const data = await prepareDataSet(set)
const size = statSync(data.path).size
const dir = mkdtempSync(join(tmpdir(), 'tally-bench-parts-'))

const seconds = async (run: () => Promise<unknown>) => {
  const started = performance.now()
  await run()
  return (performance.now() - started) / 1000
}
const sha256 = async (path: string) => {
  const hash = createHash('sha256')
  for await (const chunk of createReadStream(path)) hash.update(chunk)
  return hash.digest('hex')
}

try {
  for await (const _ of createReadStream(data.path)); // into the page cache
  const wholePath = join(dir, 'whole.csv')
  const whole = await seconds(() =>
    engine.aggregate(data.path, wholePath, { threads: cores, tempDir: dir }),
  )
  const header = await engine.readCsvHeader(createReadStream(data.path, { end: 1 << 20 }))
  const bounds = Array.from({ length: count + 1 }, (_, i) =>
    i === count ? size : header.dataStart + Math.floor(((size - header.dataStart) * i) / count),
  )
  const partPaths = bounds.slice(0, count).map((_, i) => join(dir, `part-${i}`))
  const parts = await seconds(() =>
    Promise.all(
      partPaths.map((partPath, i) =>
        engine.aggregatePart({ path: data.path, fileOffset: 0, inputBytes: size }, partPath, {
          header,
          start: bounds[i]!,
          stop: bounds[i + 1]!,
          exactStart: i === 0,
          threads: 1,
          tempDir: dir,
        }),
      ),
    ),
  )
  const summaries = partPaths.map((p) => engine.readPartSummary(p))
  if (engine.partChainBreak(header, summaries) !== -1) {
    throw new Error('a guessed part start fell inside a quoted field; pick other --parts')
  }
  const mergedPath = join(dir, 'merged.csv')
  const merge = await seconds(() =>
    engine.mergeParts(partPaths, mergedPath, {
      header,
      inputBytes: size,
      threads: cores,
      tempDir: dir,
    }),
  )
  const [a, b] = await Promise.all([sha256(wholePath), sha256(mergedPath)])
  if (a !== b) throw new Error(`the merged parts differ from the whole run (${a} vs ${b})`)
  const partBytes = partPaths.reduce((n, p) => n + statSync(p).size, 0)
  const mb = size / 1e6
  const lines = [
    '# tally: one file in parts, engine only',
    '',
    `- ${new Date().toISOString()}, Node ${process.version}, ${cpus()[0]?.model ?? '?'}, ${cores} cores, load average ${loadavg()[0]!.toFixed(2)}`,
    `- Dataset ${set.name}: ${mb.toFixed(1)} MB; ${count} parts at once, 1 thread each; merge on ${cores} threads; outputs byte-identical (sha256 ${a.slice(0, 16)}…)`,
    '',
    '| run | s | MB/s |',
    '| --- | ---: | ---: |',
    `| whole file, ${cores} threads | ${whole.toFixed(2)} | ${(mb / whole).toFixed(1)} |`,
    `| ${count} parts at once | ${parts.toFixed(2)} | |`,
    `| merge of the parts (${(partBytes / 1e6).toFixed(0)} MB of part files) | ${merge.toFixed(2)} | |`,
    `| parts + merge | ${(parts + merge).toFixed(2)} | ${(mb / (parts + merge)).toFixed(1)} |`,
    '',
    `Parts + merge take ${((parts + merge) / whole).toFixed(2)}x the whole run.`,
  ]
  const report = `${lines.join('\n')}\n`
  process.stdout.write(report)
  writeFileSync(new URL('./results/parts-latest.md', import.meta.url), report)
} finally {
  rmSync(dir, { recursive: true, force: true })
}
