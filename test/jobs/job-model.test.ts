import { describe, expect, it } from 'vitest'
import {
  assertTransition,
  canTransition,
  createJobId,
  isFinished,
  isJobId,
  JOB_STATUSES,
  type JobStatus,
  resolveJobOptions,
} from '../../src/jobs/job.js'
import { isJobError } from '../../src/jobs/job-error.js'
import { toJobProgress } from '../../src/jobs/progress.js'

describe('job status machine', () => {
  const allowed = new Set([
    'queued>running',
    'queued>canceled',
    'running>succeeded',
    'running>failed',
    'running>canceled',
    'running>queued',
  ])

  it('allows exactly the documented transitions', () => {
    for (const from of JOB_STATUSES) {
      for (const to of JOB_STATUSES) {
        expect(canTransition(from, to), `${from} -> ${to}`).toBe(allowed.has(`${from}>${to}`))
      }
    }
  })

  it('has no way out of a final status', () => {
    const final: JobStatus[] = ['succeeded', 'failed', 'canceled']
    for (const status of JOB_STATUSES) expect(isFinished(status)).toBe(final.includes(status))
  })

  it('throws JOB_INVALID_TRANSITION naming where the job could go', () => {
    expect(() => assertTransition('queued', 'running')).not.toThrow()
    let error: unknown
    try {
      assertTransition('queued', 'succeeded', 'job_x')
    } catch (e) {
      error = e
    }
    expect(isJobError(error, 'JOB_INVALID_TRANSITION')).toBe(true)
    expect((error as Error).message).toBe(
      'job_x cannot go from queued to succeeded; from queued it can go to running, canceled',
    )
    expect(() => assertTransition('failed', 'queued')).toThrow(/nothing \(final\)/)
  })
})

describe('job ids', () => {
  it('are job_ and 24 base32 characters, URL- and key-safe, and unique', () => {
    const ids = new Set<string>()
    for (let i = 0; i < 2000; i++) {
      const id = createJobId()
      expect(id).toMatch(/^job_[a-z2-7]{24}$/)
      expect(isJobId(id)).toBe(true)
      ids.add(id)
    }
    expect(ids.size).toBe(2000)
  })

  it('recognises malformed ids without a lookup', () => {
    for (const bad of [
      '',
      'job_',
      'job_../../etc/passwd',
      'JOB_abcdefghijklmnopqrstuvwx',
      'job_abc',
    ]) {
      expect(isJobId(bad), bad).toBe(false)
    }
  })
})

describe('resolveJobOptions', () => {
  it('fills in the song-plays defaults', () => {
    expect(resolveJobOptions()).toEqual({
      order: 'first_seen',
      onError: 'skip',
      groupBy: ['Song', 'Date'],
      sum: 'Number of Plays',
    })
  })

  it("keeps the caller's choices, trimmed as the engine reads them", () => {
    expect(
      resolveJobOptions({ order: 'sorted', onError: 'fail', groupBy: [' Artist '], sum: 'Plays' }),
    ).toEqual({
      order: 'sorted',
      onError: 'fail',
      groupBy: ['Artist'],
      sum: 'Plays',
    })
  })

  it("refuses with the engine's option codes", () => {
    expect(() => resolveJobOptions({ onError: 'ignore' as 'skip' })).toThrow(
      expect.objectContaining({ code: 'INVALID_OPTION_ON_ERROR' }),
    )
    expect(() => resolveJobOptions({ groupBy: ['Song'], sum: 'song' })).toThrow(
      expect.objectContaining({ code: 'INVALID_OPTION_SUM' }),
    )
  })
})

describe('toJobProgress', () => {
  const base = { rows: 10, rejected: 1, groups: 3 }

  it('gives percent by bytes, below 100 until done, and an ETA from the rate so far', () => {
    const p = toJobProgress(
      { ...base, bytesDone: 250, bytesTotal: 1000, phase: 'reading' },
      0,
      2000,
    )
    expect(p).toMatchObject({
      percent: 25,
      etaSeconds: 6,
      bytesTotal: 1000,
      rows: 10,
      phase: 'reading',
    })
    const writing = toJobProgress(
      { ...base, bytesDone: 1000, bytesTotal: 1000, phase: 'writing' },
      0,
      4000,
    )
    expect(writing).toMatchObject({ percent: 99, etaSeconds: null })
    const done = toJobProgress(
      { ...base, bytesDone: 1000, bytesTotal: 1000, phase: 'done' },
      0,
      4100,
    )
    expect(done).toMatchObject({ percent: 100, etaSeconds: 0 })
  })

  it('gives no ETA too early, and no percent without a total', () => {
    expect(
      toJobProgress({ ...base, bytesDone: 5, bytesTotal: 1000, phase: 'reading' }, 0, 5000)
        .etaSeconds,
    ).toBeNull()
    expect(
      toJobProgress({ ...base, bytesDone: 500, bytesTotal: 1000, phase: 'reading' }, 0, 100)
        .etaSeconds,
    ).toBeNull()
    expect(
      toJobProgress({ ...base, bytesDone: 500, bytesTotal: undefined, phase: 'reading' }, 0, 5000),
    ).toMatchObject({
      percent: null,
      etaSeconds: null,
      bytesTotal: null,
    })
  })
})
