/**
 * Where output goes. Files are written under a temporary name and renamed when complete, so a
 * reader never sees half a file; a stream receives the finished file's bytes.
 */
import { randomBytes } from 'node:crypto'
import {
  closeSync,
  createReadStream,
  openSync,
  renameSync,
  rmSync,
  statSync,
  writeSync,
} from 'node:fs'
import { join } from 'node:path'
import type { Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'

export type OutputTarget = string | Writable

/**
 * An output file under a temporary name, published by `commit()`. Bytes arrive through
 * `write` (synchronous), or another thread writes `tempPath` directly.
 */
export class FileSink {
  readonly tempPath: string
  private fd: number | undefined

  constructor(
    private readonly target: OutputTarget,
    tempDir: string,
  ) {
    const name = `.tally-${randomBytes(6).toString('hex')}.partial`
    this.tempPath = typeof target === 'string' ? `${target}${name}` : join(tempDir, name)
  }

  readonly write = (chunk: Uint8Array): void => {
    this.fd ??= openSync(this.tempPath, 'w')
    let at = 0
    while (at < chunk.length) at += writeSync(this.fd, chunk, at, chunk.length - at)
  }

  /** Publishes the file; returns its size in bytes. */
  async commit(): Promise<number> {
    this.close()
    const bytes = statSync(this.tempPath).size
    if (typeof this.target === 'string') {
      renameSync(this.tempPath, this.target)
      return bytes
    }
    try {
      await pipeline(createReadStream(this.tempPath), this.target)
    } finally {
      rmSync(this.tempPath, { force: true })
    }
    return bytes
  }

  discard(): void {
    this.close()
    rmSync(this.tempPath, { force: true })
  }

  private close(): void {
    if (this.fd !== undefined) {
      closeSync(this.fd)
      this.fd = undefined
    }
  }
}
