/**
 * Issue #6, faults 4: disk full. The files live on a real small filesystem (a 72 MiB tmpfs
 * mounted by the test; it runs as root); the job database stays on the ordinary disk.
 * - An upload announcing more than the free space (plus the headroom kept for results) is
 *   refused with 507 before a byte is stored.
 * - An upload of unknown length (chunked) that fills the disk while it is written: the write
 *   fails with a real ENOSPC, the client gets 507 INSUFFICIENT_STORAGE, no job exists and no
 *   partial file is left (the space is free again); the next upload that fits goes through.
 *
 * Where `mount` is not permitted (an unprivileged container), the same tests run over a storage
 * wrapper whose writes fail the way the fs layer does, with an error coded `ENOSPC` after some
 * bytes: the mapping (E_STORAGE caused by ENOSPC -> 507) and the cleanup are the same code.
 */
import { spawnSync } from 'node:child_process'
import { mkdir, mkdtemp, rm, statfs } from 'node:fs/promises'
import { request } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { FsBlobStore } from '../../src/storage/fs/fs-blob-store.js'
import { startService, type TestService } from '../http/support/service.js'
import { type Answer, json, listAllJobs, send, submitRaw, waitFinal } from './support/client.js'
import { engineOutput, plays } from './support/data.js'
import { FaultyStore } from './support/faulty-store.js'
import { filesUnder } from './support/serve-process.js'
import { startWithStore } from './support/service-with-store.js'

const DISK_MIB = 72

let base: string
let files: string
let mounted = false

beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), 'tally-faults-disk-'))
  files = join(base, 'files')
  await mkdir(files)
  const mount = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${DISK_MIB}m`, 'tmpfs', files])
  mounted = mount.status === 0
  if (!mounted) {
    console.log(`[faults] mount not permitted (${mount.stderr}); ENOSPC simulated by a wrapper`)
  }
})

afterAll(async () => {
  if (mounted) spawnSync('umount', [files])
  if (base) await rm(base, { recursive: true, force: true })
})

interface Target {
  url: string
  dataDir: string
  close(): Promise<void>
}

let target: Target | undefined

afterEach(async () => {
  await target?.close()
  target = undefined
})

let count = 0

/** The service with its files on the small filesystem (or the ENOSPC wrapper without mount). */
async function start(): Promise<Target> {
  const dataDir = join(base, `data-${++count}`)
  if (mounted) {
    const service: TestService = await startService({
      dir: dataDir,
      listen: true,
      env: { TALLY_STORAGE: `file://${files}`, TALLY_THREADS: '1' },
    })
    target = { url: service.url, dataDir, close: () => service.close() }
  } else {
    const service = await startWithStore({
      dir: dataDir,
      store: () =>
        new FaultyStore(new FsBlobStore({ root: files }), {
          write: { prefix: 'uploads/', nth: 1, afterBytes: 8 * 1024 * 1024, code: 'ENOSPC' },
        }),
      // The wrapper's disk is "large" for the early check; the write itself runs out.
      http: { freeDiskBytes: async () => (mounted ? 0 : 1024 ** 4) },
    })
    target = { url: service.url, dataDir, close: () => service.close() }
  }
  return target
}

function expect507(answer: Answer): void {
  expect(answer.status).toBe(507)
  expect(answer.headers['content-type']).toMatch(/^application\/problem\+json/)
  expect(json(answer)).toMatchObject({
    code: 'INSUFFICIENT_STORAGE',
    status: 507,
    detail: expect.stringContaining('not enough free disk space'),
  })
}

/** A raw CSV upload of `blocks` copies of `block` (after a header), chunked: no length told. */
function chunkedUpload(
  url: string,
  header: Buffer,
  block: Buffer,
  blocks: number,
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    let sent = 0
    const body = new Readable({
      read() {
        if (sent === 0) this.push(header)
        if (sent++ < blocks) this.push(block)
        else this.push(null)
      },
    })
    const req = request(`${url}/jobs?file_name=huge.csv`, {
      method: 'POST',
      headers: { 'content-type': 'text/csv', 'transfer-encoding': 'chunked' },
      agent: false,
    })
    let answered = false
    req.once('response', (res) => {
      answered = true
      const chunks: Buffer[] = []
      res.on('data', (chunk: Buffer) => chunks.push(chunk))
      res.once('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
      )
      res.once('error', reject)
      body.unpipe(req)
      body.destroy()
    })
    // Once the server answered it may close while bytes are still on their way: that is fine.
    req.once('error', (error) => {
      if (!answered) reject(error)
    })
    body.pipe(req)
  })
}

async function freeBytes(): Promise<number> {
  const info = await statfs(files)
  return info.bavail * info.bsize
}

describe('disk full', () => {
  it('refuses an upload announced larger than the free disk with 507, before storing a byte', async () => {
    const { url } = await start()
    if (!mounted) return // The early check reads the real filesystem's free space.
    const input = plays(400_000, 81) // about 12 MB: with the 64 MiB headroom, more than 72 MiB
    expect507(await submitRaw(url, input, 'file_name=plays.csv'))
    expect(await listAllJobs(url)).toEqual([])
    expect(filesUnder(files)).toEqual([])
  })

  it('an upload that fills the disk while written: 507, no job, no partial file, space freed', async () => {
    const { url, dataDir } = await start()
    const before = mounted ? await freeBytes() : 0
    const sample = plays(30_000, 82) // about 0.9 MB of rows, sent until the disk is full
    const header = sample.subarray(0, sample.indexOf(10) + 1)
    const block = sample.subarray(header.byteLength)
    const answer = await chunkedUpload(
      url,
      header,
      block,
      Math.ceil((DISK_MIB * 2 * 2 ** 20) / block.byteLength),
    )
    expect507(answer)
    expect(await listAllJobs(url)).toEqual([])
    expect(filesUnder(files)).toEqual([])
    expect(filesUnder(dataDir).filter((path) => path.endsWith('.partial'))).toEqual([])
    if (mounted) expect(await freeBytes()).toBe(before)

    // The service keeps working: an upload that fits goes through, exactly.
    const small = plays(3_000, 83)
    const accepted = await submitRaw(url, small, 'file_name=small.csv')
    expect(accepted.status).toBe(202)
    const id = json<{ job_id: string }>(accepted).job_id
    expect((await waitFinal(url, id)).status).toBe('succeeded')
    const result = await send(`${url}/jobs/${id}/result`)
    expect(result.body.equals(await engineOutput(small))).toBe(true)
  })
})
