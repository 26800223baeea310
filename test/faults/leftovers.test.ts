/**
 * What a crash leaves on disk, and what the next start removes (issue #6, faults 1a):
 * - the fs store's temporary files name their writer: one whose process is gone is removed by
 *   `init()` at once; a live writer's, and untagged young ones (the engine's), are kept;
 * - uploads no job needs (a crash between storing the upload and queueing its job, or between a
 *   job's end and the deletion of its input) are removed by the embedded backend's upload sweep
 *   at start: an orphan once older than its grace period, a finished job's at once.
 */
import { spawnSync } from 'node:child_process'
import { mkdir, mkdtemp, rm, utimes, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createJobId } from '../../src/jobs/job.js'
import { FsBlobStore } from '../../src/storage/fs/fs-blob-store.js'
import { writerTag } from '../../src/storage/fs/temp-writer.js'
import { until } from './support/client.js'
import { filesUnder } from './support/serve-process.js'
import { startWithStore } from './support/service-with-store.js'

let base: string

beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), 'tally-faults-leftovers-'))
})

afterAll(async () => {
  if (base) await rm(base, { recursive: true, force: true })
})

/** The pid of a process that has exited (and been reaped). */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'])
  return Number(child.stdout.toString())
}

describe('startup cleanup', () => {
  it('removes the temporaries of a dead writer at once, keeps a live writer’s and young untagged ones', async () => {
    const root = join(base, 'store')
    await mkdir(join(root, 'uploads'), { recursive: true })
    const mine = writerTag()
    const dead = mine.replace(/p\d+t/, `p${deadPid()}t`)
    const alive = mine.replace(/p\d+t/, `p${process.ppid}t`)
    const reborn = mine.replace(/t[0-9a-f]{8}$/, 't00000000') // this pid, another process
    const names = {
      dead: `job_a.${dead}.0a0a0a0a0a0a.partial`,
      reborn: `job_b.${reborn}.0b0b0b0b0b0b.partial`,
      alive: `job_c.${alive}.0c0c0c0c0c0c.partial`,
      otherMachine: 'job_d.m00000000p1t12345678.0d0d0d0d0d0d.partial',
      engine: 'job_e.csv.tally-0e0e0e0e0e0e.partial',
    }
    for (const name of Object.values(names)) await writeFile(join(root, 'uploads', name), 'half')
    await new FsBlobStore({ root }).init()
    expect(filesUnder(join(root, 'uploads'))).toEqual(
      [names.alive, names.otherMachine, names.engine].sort(),
    )
  })

  it('removes uploads no job needs: old orphans at start, young ones only later', async () => {
    const dir = join(base, 'service')
    const uploads = join(dir, 'files', 'uploads')
    await mkdir(uploads, { recursive: true })
    const oldOrphan = createJobId()
    const youngOrphan = createJobId()
    await writeFile(join(uploads, oldOrphan), 'Song,Date,Number of Plays\n')
    await writeFile(join(uploads, youngOrphan), 'Song,Date,Number of Plays\n')
    const hourAgo = new Date(Date.now() - 3_600_000)
    await utimes(join(uploads, oldOrphan), hourAgo, hourAgo)
    const service = await startWithStore({
      dir,
      store: (data) => new FsBlobStore({ root: join(data, 'files') }),
    })
    try {
      await until('the old orphan removed', () => !filesUnder(uploads).includes(oldOrphan), 10_000)
      expect(filesUnder(uploads)).toEqual([youngOrphan])
      expect(await service.jobs.sweepUploads(new Date(Date.now() + 11 * 60_000))).toBe(1)
      expect(filesUnder(uploads)).toEqual([])
    } finally {
      await service.close()
    }
  })
})
