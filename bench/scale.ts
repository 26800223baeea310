/**
 * `npm run bench:scale`: one large file through the HTTP API, embedded versus scaled out with
 * Redis and S3-compatible storage on one and on two worker processes, verified before reported.
 *
 *   npm run bench:scale -- [--size S|M|L|H] [--file PATH] [--split-mb N] [--worker-threads N]
 *                          [--storage s3|file] [--rounds N]
 *
 * Dataset: the bench's L set by default (generated once and cached, see data-sets.ts), another
 * set with `--size`, or any CSV with `--file`. Three scenarios, one after another, each on its
 * own fresh processes (`node bin/tally.js`, the built CLI; `npm run bench:scale` builds first):
 *
 * - A "embedded": `tally serve` alone (SQLite queue, files in a temporary TALLY_DATA_DIR),
 *   TALLY_THREADS = the number of cores (2 on the project's machine);
 * - B "1 worker": a `redis-server` (Debian's, persistence off) and s3rver (a dev dependency)
 *   shared by `tally serve` (which only queues) and one `tally worker`, TALLY_THREADS = cores;
 * - C "2 workers": the same with two `tally worker`s, TALLY_THREADS = cores / 2 each, so both
 *   scaled-out scenarios use as many threads in all. The job must be split into parts: the run
 *   fails when no worker logged 'job split into parts' (and when B's single worker did).
 *
 * Workers run one job at a time (TALLY_CONCURRENCY=1): the two parts of a split go to two
 * workers. A job is split when its input is larger than TALLY_SPLIT_MB (256 MiB by default);
 * for a smaller file the bench lowers it so that the file splits in two (`--split-mb` sets it),
 * and says so. B and C get the same value (with S3 it is also the size of the slices a worker
 * reads), A ignores it.
 *
 * With `--rounds N`, the three scenarios run N times in turn (A, B, C, A, B, C, ...), so a noisy
 * machine slows each alike; the table shows each scenario's fastest run, and every run's
 * processing time is listed under it.
 *
 * For each scenario: the file is read once (page cache), then uploaded with `POST /jobs` (raw
 * `text/csv` body), the job is polled every 100 ms until it ends, and the result is downloaded
 * and hashed. Upload = request start to the 202; processing = the job's started_at to
 * finished_at; total = request start to the poll that saw `succeeded`. The three results must
 * be byte-identical to each other and to `tally aggregate` on the file (run once, its time is
 * shown for reference). The table goes to stdout and bench/results/scale-latest.md. Every
 * process, server and temporary directory is removed at the end, also on failure or Ctrl-C.
 */
import { createHash } from 'node:crypto'
import { createReadStream, createWriteStream, existsSync, statSync } from 'node:fs'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { request as httpRequest, type IncomingMessage } from 'node:http'
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os'
import { basename, join, resolve } from 'node:path'
import { pipeline } from 'node:stream/promises'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { Queue } from 'bullmq'
import { Redis } from 'ioredis'
import type { JobView } from '../src/http/schemas/job-view.js'
import { startMultipartS3Server } from '../test/http/support/s3rver-multipart.js'
import { freePort } from '../test/support/free-port.js'
import { type RedisServer, startRedisServer } from '../test/support/redis-server.js'
import { S3RVER_CREDENTIALS } from '../test/support/s3-server.js'
import {
  startTallyProcess,
  stopTallyProcess,
  type TallyProcess,
  waitForOutput,
} from '../test/support/tally-process.js'
import { spawnTied } from '../test/support/tied-process.js'
import { DATA_SETS, prepareDataSet } from './data-sets.js'

const repoRoot = fileURLToPath(new URL('..', import.meta.url))
const tallyBin = join(repoRoot, 'bin', 'tally.js')
const log = (line: string) => process.stderr.write(`${line}\n`)
const MiB = 1024 * 1024
const DEFAULT_SPLIT_MB = 256
const BUCKET = 'tally-bench'
const START_TIMEOUT_MS = 60_000
const JOB_TIMEOUT_MS = 60 * 60 * 1000
const POLL_MS = 100

type ScenarioName = 'A' | 'B' | 'C'

interface Scenario {
  name: ScenarioName
  label: string
  workers: number
  threads: number
}

interface ScenarioResult {
  scenario: Scenario
  uploadSeconds: number
  queueSeconds: number
  processingSeconds: number
  durationMs: number
  totalSeconds: number
  /** From started_at to the first poll that saw the merging or writing phase; null: never seen. */
  readSeconds: number | null
  sha256: string
  outputBytes: number
  rowsRead: number
  groups: number
  parts: number | null
  loadBefore: number
  loadAfter: number
}

// ---------------------------------------------------------------------------------------------
// Options and dataset

function parseOptions() {
  const { values } = parseArgs({
    options: {
      size: { type: 'string' },
      file: { type: 'string' },
      'split-mb': { type: 'string' },
      'worker-threads': { type: 'string' },
      storage: { type: 'string', default: 's3' },
      rounds: { type: 'string', default: '1' },
    },
  })
  const rounds = Number(values.rounds)
  if (!Number.isInteger(rounds) || rounds < 1)
    throw new Error('--rounds must be a positive integer')
  if (values.storage !== 's3' && values.storage !== 'file') {
    throw new Error('--storage must be s3 or file')
  }
  if (values.size !== undefined && values.file !== undefined) {
    throw new Error('give --size or --file, not both')
  }
  let splitMb: number | undefined
  if (values['split-mb'] !== undefined) {
    splitMb = Number(values['split-mb'])
    if (!Number.isInteger(splitMb) || splitMb < 1) {
      throw new Error('--split-mb must be a positive integer')
    }
  }
  let workerThreads: number | undefined
  if (values['worker-threads'] !== undefined) {
    workerThreads = Number(values['worker-threads'])
    if (!Number.isInteger(workerThreads) || workerThreads < 1) {
      throw new Error('--worker-threads must be a positive integer')
    }
  }
  return {
    size: values.size ?? (values.file ? undefined : 'L'),
    file: values.file,
    splitMb,
    workerThreads,
    storage: values.storage as 's3' | 'file',
    rounds,
  }
}

async function dataset(options: ReturnType<typeof parseOptions>) {
  if (options.file !== undefined) {
    const path = resolve(options.file)
    if (!existsSync(path)) throw new Error(`--file ${path}: no such file`)
    return { name: basename(path), description: path, path, bytes: statSync(path).size }
  }
  const set = DATA_SETS.find((s) => s.name === options.size!.toUpperCase())
  if (!set) {
    throw new Error(`unknown --size "${options.size}"; known: ${DATA_SETS.map((s) => s.name)}`)
  }
  const data = await prepareDataSet(set)
  const mb = (data.bytes / 1e6).toFixed(1)
  if (data.generated)
    log(`${set.name}: generated ${mb} MB in ${data.generated.seconds.toFixed(1)} s`)
  else log(`${set.name}: cached ${mb} MB: ${data.path}`)
  const description =
    `${set.name} (${set.rows.toLocaleString('en-US')} rows, ${set.songs.toLocaleString('en-US')} ` +
    `songs, ${set.days} days, seed ${set.seed})`
  return { name: set.name, description, path: data.path, bytes: data.bytes }
}

// ---------------------------------------------------------------------------------------------
// Processes

/** Everything to undo at the end, newest first. */
const cleanups: (() => Promise<void>)[] = []
const processes: TallyProcess[] = []

function startTally(name: string, args: string[], env: NodeJS.ProcessEnv): TallyProcess {
  const made = startTallyProcess(name, [tallyBin, ...args], { cwd: repoRoot, env })
  processes.push(made)
  return made
}

async function stopTally(made: TallyProcess): Promise<void> {
  await stopTallyProcess(made)
  const index = processes.indexOf(made)
  if (index >= 0) processes.splice(index, 1)
}

/** A process of this bench that is not a server: `tally aggregate`. */
function runTally(args: string[]): Promise<void> {
  return new Promise((done, fail) => {
    const child = spawnTied(process.execPath, [tallyBin, ...args], {
      cwd: repoRoot,
      stdio: ['ignore', 'ignore', 'pipe'],
    })
    let stderr = ''
    child.stderr!.on('data', (chunk: Buffer) => {
      stderr += chunk.toString()
    })
    child.on('error', fail)
    child.on('close', (code) => {
      if (code === 0) done()
      else fail(new Error(`tally ${args.join(' ')} exited with ${code}:\n${stderr}`))
    })
  })
}

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms))

/** The environment without any TALLY_* or REDIS_URL of the caller's shell. */
function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.startsWith('TALLY_') && key !== 'REDIS_URL') env[key] = value
  }
  return env
}

// ---------------------------------------------------------------------------------------------
// HTTP

function upload(baseUrl: string, path: string, bytes: number, fileName: string): Promise<JobView> {
  return new Promise((done, fail) => {
    const url = new URL(`/jobs?file_name=${encodeURIComponent(fileName)}`, baseUrl)
    const req = httpRequest(url, {
      method: 'POST',
      headers: { 'content-type': 'text/csv', 'content-length': String(bytes) },
    })
    req.on('error', fail)
    req.on('response', (res) => {
      readBody(res).then((body) => {
        if (res.statusCode !== 202) fail(new Error(`POST /jobs: ${res.statusCode} ${body}`))
        else done(JSON.parse(body) as JobView)
      }, fail)
    })
    pipeline(createReadStream(path, { highWaterMark: 1 << 20 }), req).catch(fail)
  })
}

function get(url: string): Promise<IncomingMessage> {
  return new Promise((done, fail) => {
    httpRequest(url, (res) => done(res))
      .on('error', fail)
      .end()
  })
}

async function readBody(res: IncomingMessage): Promise<string> {
  let text = ''
  for await (const chunk of res) text += chunk
  return text
}

async function getJob(baseUrl: string, id: string): Promise<JobView> {
  const res = await get(`${baseUrl}/jobs/${id}`)
  const body = await readBody(res)
  if (res.statusCode !== 200) throw new Error(`GET /jobs/${id}: ${res.statusCode} ${body}`)
  return JSON.parse(body) as JobView
}

/** Downloads the result to `path` and answers its SHA-256. */
async function download(baseUrl: string, id: string, path: string): Promise<string> {
  const res = await get(`${baseUrl}/jobs/${id}/result`)
  if (res.statusCode !== 200) {
    throw new Error(`GET /jobs/${id}/result: ${res.statusCode} ${await readBody(res)}`)
  }
  await pipeline(res, createWriteStream(path))
  return sha256(path)
}

async function sha256(path: string): Promise<string> {
  const hash = createHash('sha256')
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 22 })) hash.update(chunk)
  return hash.digest('hex')
}

async function readThrough(path: string): Promise<void> {
  for await (const _ of createReadStream(path, { highWaterMark: 1 << 22 })) {
    // Reading is the point: every scenario finds the file in the page cache.
  }
}

// ---------------------------------------------------------------------------------------------
// Scenarios

interface Shared {
  workDir: string
  data: { name: string; path: string; bytes: number }
  s3Endpoint: string
  splitMb: number
  /** B and C's storage: s3rver, or one directory they all share (as on a shared volume). */
  storage: 's3' | 'file'
}

async function runScenario(scenario: Scenario, shared: Shared): Promise<ScenarioResult> {
  const { workDir, data } = shared
  const dir = join(workDir, scenario.name)
  await mkdir(dir, { recursive: true })
  const port = await freePort()
  const baseUrl = `http://127.0.0.1:${port}`
  const base: NodeJS.ProcessEnv = {
    ...cleanEnv(),
    TALLY_HOST: '127.0.0.1',
    TALLY_PORT: String(port),
    TALLY_THREADS: String(scenario.threads),
    TALLY_LOG_LEVEL: 'info',
  }
  let redis: RedisServer | undefined
  let queue: Queue | undefined
  let connection: Redis | undefined
  const started: TallyProcess[] = []
  try {
    let env = (name: string): NodeJS.ProcessEnv => ({
      ...base,
      TALLY_DATA_DIR: join(dir, name),
    })
    if (scenario.workers > 0) {
      redis = await startRedisServer()
      // Also at the end of the bench: a Ctrl-C does not wait for this scenario's finally.
      cleanups.push(redis.stop)
      const redisUrl = redis.url
      env = (name) => ({
        ...base,
        TALLY_DATA_DIR: join(dir, name),
        REDIS_URL: redisUrl,
        ...(shared.storage === 'file'
          ? { TALLY_STORAGE: `file://${join(dir, 'shared-files')}` }
          : {
              TALLY_STORAGE: `s3://${BUCKET}/${scenario.name}`,
              TALLY_S3_ENDPOINT: shared.s3Endpoint,
              TALLY_S3_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId,
              TALLY_S3_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey,
            }),
        TALLY_SPLIT_MB: String(shared.splitMb),
        TALLY_CONCURRENCY: '1',
      })
    }
    const api = startTally(`${scenario.name}-api`, ['serve', '--grace', '1'], env('api'))
    started.push(api)
    const workers = Array.from({ length: scenario.workers }, (_, i) => {
      const name = `${scenario.name}-worker-${i + 1}`
      const made = startTally(name, ['worker', '--grace', '1'], env(name))
      started.push(made)
      return made
    })
    await Promise.all([
      waitForOutput(api, 'tally is serving', START_TIMEOUT_MS),
      ...workers.map((worker) =>
        waitForOutput(worker, 'tally worker is taking jobs', START_TIMEOUT_MS),
      ),
    ])
    if (redis) {
      // The count the splitting worker asks BullMQ for: every worker must be in it.
      connection = new Redis(redis.url, { maxRetriesPerRequest: null })
      queue = new Queue('jobs', { connection, prefix: 'tally' })
      const deadline = Date.now() + START_TIMEOUT_MS
      for (;;) {
        const count = await queue.getWorkersCount()
        if (count === scenario.workers) break
        if (Date.now() > deadline) {
          throw new Error(`BullMQ counts ${count} workers, expected ${scenario.workers}`)
        }
        await sleep(100)
      }
    }
    await readThrough(data.path)
    const loadBefore = loadavg()[0]
    log(`${scenario.name} ${scenario.label}: uploading (load average ${loadBefore.toFixed(2)})`)
    const t0 = performance.now()
    const accepted = await upload(baseUrl, data.path, data.bytes, `${data.name}.csv`)
    const uploadSeconds = (performance.now() - t0) / 1000
    log(`${scenario.name}: uploaded in ${uploadSeconds.toFixed(2)} s, job ${accepted.job_id}`)
    let job = accepted
    /** performance.now() of the first poll that saw the job past reading its input. */
    let mergeSeenAt: number | undefined
    const deadline = Date.now() + JOB_TIMEOUT_MS
    while (job.status === 'queued' || job.status === 'running') {
      if (Date.now() > deadline) throw new Error(`job ${job.job_id} did not end in time`)
      for (const made of started) {
        if (made.child.exitCode !== null || made.child.signalCode !== null) {
          throw new Error(`${made.name} exited during the job:\n${made.output()}`)
        }
      }
      await sleep(POLL_MS)
      job = await getJob(baseUrl, accepted.job_id)
      const phase = job.progress?.phase
      if (mergeSeenAt === undefined && (phase === 'merging' || phase === 'writing')) {
        mergeSeenAt = performance.now()
      }
    }
    const totalSeconds = (performance.now() - t0) / 1000
    const loadAfter = loadavg()[0]
    if (job.status !== 'succeeded' || !job.result || !job.started_at || !job.finished_at) {
      throw new Error(`job ${job.job_id} ended ${job.status}: ${JSON.stringify(job.error)}`)
    }
    const processingSeconds = (Date.parse(job.finished_at) - Date.parse(job.started_at)) / 1000
    const queueSeconds = (Date.parse(job.started_at) - t0Wall(t0)) / 1000 - uploadSeconds
    const readSeconds =
      mergeSeenAt === undefined ? null : (t0Wall(mergeSeenAt) - Date.parse(job.started_at)) / 1000
    log(
      `${scenario.name}: succeeded, processing ${processingSeconds.toFixed(2)} s, ` +
        `total ${totalSeconds.toFixed(2)} s`,
    )
    const sha = await download(baseUrl, job.job_id, join(workDir, `${scenario.name}-result.csv`))
    const parts = splitParts(workers)
    return {
      scenario,
      uploadSeconds,
      queueSeconds,
      processingSeconds,
      durationMs: job.result.duration_ms,
      totalSeconds,
      readSeconds,
      sha256: sha,
      outputBytes: job.result.output_bytes,
      rowsRead: job.result.rows_read,
      groups: job.result.groups,
      parts,
      loadBefore,
      loadAfter,
    }
  } catch (error) {
    for (const made of started) {
      log(`--- ${made.name} output (last 4000 characters):\n${made.output().slice(-4000)}`)
    }
    throw error
  } finally {
    await Promise.all(started.map(stopTally))
    await queue?.close().catch(() => {})
    connection?.disconnect()
    await redis?.stop().catch(() => {})
    await rm(dir, { recursive: true, force: true })
  }
}

/** Wall-clock ms of a `performance.now()` reading, to compare with the job's timestamps. */
function t0Wall(t0: number): number {
  return performance.timeOrigin + t0
}

/** The parts of the 'job split into parts' line of the workers' logs; null when none split. */
function splitParts(workers: TallyProcess[]): number | null {
  for (const worker of workers) {
    for (const line of worker.output().split('\n')) {
      if (!line.includes('job split into parts')) continue
      try {
        const entry = JSON.parse(line) as { msg?: string; parts?: number }
        if (entry.msg === 'job split into parts') return entry.parts ?? 0
      } catch {
        return 0
      }
    }
  }
  return null
}

// ---------------------------------------------------------------------------------------------
// Report

function markdown(
  results: ScenarioResult[],
  runs: ScenarioResult[][],
  info: {
    data: { description: string; bytes: number }
    splitMb: number
    splitNote: string
    storage: 's3' | 'file'
    reference: { seconds: number; sha256: string }
    matched: boolean
    rowsRead: number
    groups: number
    cores: number
  },
): string {
  const mb = info.data.bytes / 1e6
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`
  const byName = (name: ScenarioName) => results.find((r) => r.scenario.name === name)!
  const [a, b, c] = [byName('A'), byName('B'), byName('C')]
  const head = [
    'scenario',
    'processes',
    'threads each',
    'upload s',
    'queue s',
    'processing s',
    'read s',
    'merge + write s',
    'total s',
    'MB/s (processing)',
    'parts',
    'load avg (start/end)',
  ]
  const rows = results.map((r) => [
    `${r.scenario.name} ${r.scenario.label}`,
    r.scenario.workers === 0 ? '1 (serve)' : `serve + ${r.scenario.workers} worker(s)`,
    String(r.scenario.threads),
    r.uploadSeconds.toFixed(2),
    Math.max(0, r.queueSeconds).toFixed(2),
    r.processingSeconds.toFixed(2),
    r.readSeconds === null ? '?' : r.readSeconds.toFixed(1),
    r.readSeconds === null ? '?' : (r.processingSeconds - r.readSeconds).toFixed(1),
    r.totalSeconds.toFixed(2),
    (mb / r.processingSeconds).toFixed(1),
    r.parts === null ? '1 (not split)' : String(r.parts),
    `${r.loadBefore.toFixed(1)} / ${r.loadAfter.toFixed(1)}`,
  ])
  const ratio = (x: number, y: number) => `${(x / y).toFixed(2)}x`
  return [
    '# tally scale-out benchmark',
    '',
    `- Date: ${new Date().toISOString()}`,
    `- Node ${process.version}, ${cpus()[0]?.model ?? 'unknown CPU'}, ${info.cores} cores`,
    `- Dataset: ${info.data.description}, ${mb.toFixed(1)} MB (${info.data.bytes.toLocaleString('en-US')} bytes), ` +
      `${info.rowsRead.toLocaleString('en-US')} rows, ${info.groups.toLocaleString('en-US')} groups`,
    '- A: `tally serve` alone (SQLite, local files); B and C: `tally serve` (queues only) + ' +
      '`tally worker`s on a local `redis-server` (persistence off) and ' +
      (info.storage === 's3'
        ? 's3rver (S3 storage)'
        : 'one local directory they share (`--storage file`, as a shared volume)'),
    `- Threads: A ${a.scenario.threads}, B ${b.scenario.threads} (1 worker), ` +
      `C ${c.scenario.threads} per worker (2 workers); workers TALLY_CONCURRENCY=1`,
    `- TALLY_SPLIT_MB=${info.splitMb} for B and C (${info.splitNote})`,
    '- Upload: POST /jobs, raw text/csv body, request start to 202; queue: 202 to started_at; ' +
      'processing: started_at to finished_at; total: request start to the poll (100 ms) that ' +
      'saw succeeded; read / merge + write: processing split at the first poll that saw the ' +
      'job in its merging or writing phase (about 0.1 to 1 s precision). MB = 10^6 bytes',
    `- Results: ${info.matched ? 'byte-identical' : 'NOT identical'} in A, B, C and ` +
      `\`tally aggregate\` (sha256 ${info.reference.sha256.slice(0, 16)}…); ` +
      `\`tally aggregate --threads ${info.cores}\` alone took ${info.reference.seconds.toFixed(2)} s`,
    '',
    line(head),
    line(head.map((_, i) => (i <= 1 ? '---' : '---:'))),
    ...rows.map(line),
    '',
    ...(runs[0]!.length > 1
      ? [
          `${runs[0]!.length} rounds (A, B, C in turn); each row is the scenario's fastest run. ` +
            `Processing s of every run: ${runs
              .map(
                (each) =>
                  `${each[0]!.scenario.name} ${each.map((r) => r.processingSeconds.toFixed(2)).join(', ')}`,
              )
              .join('; ')}.`,
          '',
        ]
      : []),
    `Speed-up of C (2 workers) over B (1 worker): processing ${ratio(b.processingSeconds, c.processingSeconds)}, ` +
      `total ${ratio(b.totalSeconds, c.totalSeconds)}.`,
    `Speed-up of C (2 workers) over A (embedded): processing ${ratio(a.processingSeconds, c.processingSeconds)}, ` +
      `total ${ratio(a.totalSeconds, c.totalSeconds)}.`,
    '',
  ].join('\n')
}

// ---------------------------------------------------------------------------------------------
// Main

let cleaning: Promise<void> | undefined
function cleanUp(): Promise<void> {
  cleaning ??= (async () => {
    await Promise.all([...processes].map(stopTally))
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {})
  })()
  return cleaning
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    log(`${signal}: stopping`)
    cleanUp().finally(() => process.exit(130))
  })
}

async function main(): Promise<void> {
  const options = parseOptions()
  if (!existsSync(join(repoRoot, 'dist', 'cli', 'main.js'))) {
    throw new Error('dist/ is not built: run `npm run bench:scale` (it builds first)')
  }
  const cores = availableParallelism()
  const data = await dataset(options)
  let splitMb = options.splitMb ?? DEFAULT_SPLIT_MB
  let splitNote = options.splitMb === undefined ? 'the default' : 'set with --split-mb'
  if (data.bytes <= splitMb * MiB) {
    // Lowered so the file is larger than it: split in two with two workers.
    splitMb = Math.max(1, Math.ceil(data.bytes / 2 / MiB))
    splitNote = `lowered from ${options.splitMb ?? DEFAULT_SPLIT_MB} so that this ${(
      data.bytes / MiB
    ).toFixed(1)} MiB file splits`
    if (data.bytes <= splitMb * MiB) throw new Error('the file is too small to split (under 1 MiB)')
  }
  log(`TALLY_SPLIT_MB=${splitMb} for B and C (${splitNote})`)
  const workDir = await mkdtemp(join(tmpdir(), 'tally-bench-scale-'))
  cleanups.push(() => rm(workDir, { recursive: true, force: true }))

  const s3 = await startMultipartS3Server()
  cleanups.push(() => s3.stop())
  await s3.createBucket(BUCKET)

  // The reference: the engine alone, from the command line.
  await readThrough(data.path)
  const referencePath = join(workDir, 'reference.csv')
  log(`reference: tally aggregate --threads ${cores}`)
  const r0 = performance.now()
  await runTally(['aggregate', data.path, '-o', referencePath, '--threads', String(cores), '-q'])
  const reference = {
    seconds: (performance.now() - r0) / 1000,
    sha256: await sha256(referencePath),
  }
  log(`reference: ${reference.seconds.toFixed(2)} s, sha256 ${reference.sha256}`)

  // By default each of C's workers gets half the cores, so both scaled-out runs use as many
  // threads in all; `--worker-threads` sets it (a worker's default is all its machine's cores).
  const half = options.workerThreads ?? Math.max(1, Math.floor(cores / 2))
  const scenarios: Scenario[] = [
    { name: 'A', label: 'embedded', workers: 0, threads: cores },
    { name: 'B', label: '1 worker', workers: 1, threads: cores },
    { name: 'C', label: '2 workers', workers: 2, threads: half },
  ]
  log(
    `threads: A ${cores}; B 1 worker x ${cores}; C 2 workers x ${half} ` +
      `${options.workerThreads ? '(--worker-threads)' : '(as many threads in all as cores)'}`,
  )
  const shared: Shared = {
    workDir,
    data,
    s3Endpoint: s3.endpoint,
    splitMb,
    storage: options.storage,
  }
  const runs: ScenarioResult[][] = scenarios.map(() => [])
  for (let round = 0; round < options.rounds; round++) {
    for (const [i, scenario] of scenarios.entries()) {
      runs[i]!.push(await runScenario(scenario, shared))
    }
  }
  const results = runs.map((each) =>
    each.reduce((best, r) => (r.processingSeconds < best.processingSeconds ? r : best)),
  )

  const problems: string[] = []
  for (const r of runs.flat()) {
    if (r.sha256 !== reference.sha256) {
      problems.push(`${r.scenario.name}: result sha256 ${r.sha256} differs from tally aggregate's`)
    }
  }
  const [, bRuns, cRuns] = runs as [ScenarioResult[], ScenarioResult[], ScenarioResult[]]
  for (const b of bRuns) {
    if (b.parts !== null) problems.push(`B: the single worker split the job into ${b.parts} parts`)
  }
  for (const c of cRuns) {
    if (c.parts === null) problems.push('C: no worker logged "job split into parts"')
    else if (c.parts !== 2) problems.push(`C: the job was split into ${c.parts} parts, expected 2`)
  }
  const c = cRuns[0]!
  const matched = runs.flat().every((r) => r.sha256 === reference.sha256)
  if (!matched) {
    // Kept for a look: the results differ.
    const kept = await mkdtemp(join(tmpdir(), 'tally-bench-scale-diff-'))
    for (const r of results) {
      const name = `${r.scenario.name}-result.csv`
      await writeFile(join(kept, name), await readFile(join(workDir, name)))
    }
    await writeFile(join(kept, 'reference.csv'), await readFile(referencePath))
    problems.push(`outputs kept in ${kept}`)
  }
  const report = markdown(results, runs, {
    data,
    splitMb,
    splitNote,
    storage: options.storage,
    reference,
    matched,
    rowsRead: c.rowsRead,
    groups: c.groups,
    cores,
  })
  process.stdout.write(`\n${report}`)
  if (problems.length > 0) throw new Error(`verification failed:\n${problems.join('\n')}`)
  const resultsPath = fileURLToPath(new URL('./results/scale-latest.md', import.meta.url))
  await writeFile(resultsPath, report)
  log(`written to ${resultsPath}`)
}

try {
  await main()
  await cleanUp()
} catch (error) {
  log(error instanceof Error ? (error.stack ?? error.message) : String(error))
  await cleanUp()
  process.exit(1)
}
