/**
 * A real S3-compatible server for tests: s3rver (npm, a dev dependency) in a child process on
 * 127.0.0.1, a port the OS picks, and a temporary directory for its objects. It speaks the S3
 * REST API over HTTP with SigV4 checks, multipart uploads, ranged GETs and ListObjectsV2, which is
 * what the adapter uses; it needs nothing downloaded at run time.
 */
import type { ChildProcess } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3'
import { spawnTied } from './tied-process.js'

/** s3rver's built-in account. */
export const S3RVER_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' }

export interface S3Server {
  readonly endpoint: string
  /** A client for this server, configured as the adapter's factory configures one. */
  client(): S3Client
  createBucket(name: string): Promise<void>
  stop(): Promise<void>
}

const READY_TIMEOUT_MS = 15_000

export async function startS3Server(): Promise<S3Server> {
  const entry = pathToFileURL(createRequire(import.meta.url).resolve('s3rver')).href
  const script = `
    const { default: S3rver } = await import(${JSON.stringify(entry)})
    const server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory: process.argv[1] })
    const { port } = await server.run()
    process.stdout.write(JSON.stringify({ port }) + '\\n')
    process.on('SIGTERM', () => server.close().finally(() => process.exit(0)))
  `
  return launchS3rver(script, [])
}

/**
 * Runs `script` (an ES module that starts s3rver and prints `{"port":N}`) in a child process with
 * `args` and then a fresh directory for the objects, and answers once it listens.
 */
export async function launchS3rver(
  script: string,
  args: readonly string[],
  readyTimeoutMs = READY_TIMEOUT_MS,
): Promise<S3Server> {
  const dir = await mkdtemp(join(tmpdir(), 'tally-s3-'))
  const child = spawnTied(process.execPath, ['--input-type=module', '-e', script, ...args, dir], {
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let port: number
  try {
    port = await readPort(child, readyTimeoutMs)
  } catch (error) {
    child.kill('SIGKILL')
    await rm(dir, { recursive: true, force: true })
    throw error
  }
  const endpoint = `http://127.0.0.1:${port}`
  const clients: S3Client[] = []
  const client = () => {
    const made = new S3Client({
      endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: S3RVER_CREDENTIALS,
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    })
    clients.push(made)
    return made
  }
  return {
    endpoint,
    client,
    async createBucket(name) {
      const admin = client()
      await admin.send(new CreateBucketCommand({ Bucket: name }))
    },
    async stop() {
      for (const made of clients) made.destroy()
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve))
        child.kill('SIGTERM')
        await exited
      }
      await rm(dir, { recursive: true, force: true })
    },
  }
}

function readPort(child: ChildProcess, timeoutMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    let output = ''
    const timer = setTimeout(() => {
      reject(new Error(`s3rver did not start within ${timeoutMs} ms:\n${output}`))
    }, timeoutMs)
    child.stdout!.on('data', (data: Buffer) => {
      output += data.toString()
      const line = /^\{"port":(\d+)\}$/m.exec(output)
      if (line) {
        clearTimeout(timer)
        resolve(Number(line[1]))
      }
    })
    child.stderr!.on('data', (data: Buffer) => {
      output += data.toString()
    })
    child.once('exit', (code, signal) => {
      clearTimeout(timer)
      reject(new Error(`s3rver exited (${code ?? signal}) before it was ready:\n${output}`))
    })
  })
}
