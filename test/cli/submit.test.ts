/**
 * `tally submit`, `status` and `download` as a user runs them (a child process) against the
 * real service on 127.0.0.1: the downloaded totals equal the engine's own; exit codes tell a
 * failed job (1) from an unreachable server (3).
 */
import { execFile } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { connect, createServer, type Server } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { engineOutput, songPlays, startService, type TestService } from '../http/support/service.js'

interface Run {
  code: number
  stdout: string
  stderr: string
}

function tally(args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', 'src/cli/main.ts', ...args],
      { env: { ...process.env, TALLY_SERVER: '', TALLY_API_KEY: '' } },
      (error, stdout, stderr) => {
        const code = error ? ((error as { code?: number }).code ?? 1) : 0
        resolve({ code, stdout, stderr })
      },
    )
  })
}

describe('tally submit / status / download', () => {
  let t: TestService
  let dir: string
  beforeAll(async () => {
    t = await startService({ listen: true })
    dir = await mkdtemp(join(tmpdir(), 'tally-submit-'))
  })
  afterAll(async () => {
    await t?.close()
    await rm(dir, { recursive: true, force: true })
  })

  it('uploads, follows the job and downloads the exact totals', async () => {
    const csv = songPlays(30_000, 5)
    await writeFile(join(dir, 'plays.csv'), csv)
    const output = join(dir, 'totals.csv')
    const run = await tally([
      'submit',
      join(dir, 'plays.csv'),
      '--server',
      t.url,
      '--order',
      'sorted',
      '-o',
      output,
    ])
    expect(run.code, run.stderr).toBe(0)
    expect(run.stdout.trim()).toMatch(/^\S+$/)
    expect((await readFile(output)).equals(await engineOutput(csv, { order: 'sorted' }))).toBe(true)
  }, 60_000)

  it('--no-wait prints the job id; status and download take it from there', async () => {
    const csv = songPlays(5_000, 9)
    await writeFile(join(dir, 'later.csv'), csv)
    const submitted = await tally([
      'submit',
      join(dir, 'later.csv'),
      '--server',
      t.url,
      '--no-wait',
    ])
    expect(submitted.code, submitted.stderr).toBe(0)
    const id = submitted.stdout.trim()

    let status: Run
    do {
      status = await tally(['status', id, '--server', t.url])
      expect(status.code, status.stderr).toBe(0)
    } while (!status.stdout.includes('succeeded'))

    const output = join(dir, 'later-totals.csv')
    const download = await tally(['download', id, '--server', t.url, '-o', output])
    expect(download.code, download.stderr).toBe(0)
    expect((await readFile(output)).equals(await engineOutput(csv))).toBe(true)
  }, 60_000)

  it('resumes an upload whose connection drops halfway', async () => {
    const csv = songPlays(60_000, 11)
    await writeFile(join(dir, 'dropped.csv'), csv)
    const proxy = await cuttingProxy(t.url, csv.length >> 1)
    try {
      const output = join(dir, 'dropped-totals.csv')
      const run = await tally([
        'submit',
        join(dir, 'dropped.csv'),
        '--server',
        proxy.url,
        '-o',
        output,
      ])
      expect(run.code, run.stderr).toBe(0)
      expect(proxy.cuts).toBe(1)
      expect(proxy.resumedAt).toBeGreaterThan(0)
      expect((await readFile(output)).equals(await engineOutput(csv))).toBe(true)
    } finally {
      proxy.server.close()
    }
  }, 60_000)

  it('exits 1 when the job fails, and 3 when the server cannot be reached', async () => {
    await writeFile(join(dir, 'bad.csv'), songPlays(2_000, 2, 0.05))
    const failed = await tally([
      'submit',
      join(dir, 'bad.csv'),
      '--server',
      t.url,
      '--on-error',
      'fail',
    ])
    expect(failed.code).toBe(1)
    expect(failed.stderr).toMatch(/failed/)

    const unreachable = await tally([
      'submit',
      join(dir, 'bad.csv'),
      '--server',
      'http://127.0.0.1:9',
    ])
    expect(unreachable.code).toBe(3)
    expect(unreachable.stderr).toMatch(/cannot reach/)
  }, 60_000)
})

/**
 * A TCP proxy to `target` that drops the first connection carrying more than `cutAfter` bytes
 * from the client (the upload's body), once: a network failure in the middle of an upload.
 */
async function cuttingProxy(target: string, cutAfter: number) {
  const { hostname, port } = new URL(target)
  const state = { cuts: 0, resumedAt: 0 }
  const server: Server = createServer((client) => {
    const upstream = connect(Number(port), hostname)
    let sent = 0
    client.on('data', (chunk: Buffer) => {
      sent += chunk.length
      // A PATCH after the cut starts at the offset the server reported (HEAD), not at 0.
      const offset = /upload-offset: *(\d+)/i.exec(chunk.toString('latin1'))
      if (state.cuts > 0 && offset) state.resumedAt = Math.max(state.resumedAt, Number(offset[1]))
      if (state.cuts === 0 && sent > cutAfter) {
        state.cuts++
        client.destroy()
        upstream.destroy()
        return
      }
      upstream.write(chunk)
    })
    upstream.pipe(client)
    client.on('error', () => upstream.destroy())
    upstream.on('error', () => client.destroy())
    client.on('close', () => upstream.destroy())
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address() as { port: number }
  return {
    server,
    url: `http://127.0.0.1:${address.port}`,
    get cuts() {
      return state.cuts
    },
    get resumedAt() {
      return state.resumedAt
    },
  }
}
