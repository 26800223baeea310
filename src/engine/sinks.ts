/**
 * Where output goes. Files are written under a temporary name and renamed when complete, so a
 * reader never sees half a file; a stream receives the finished file's bytes.
 */
import { randomBytes } from 'node:crypto'
import { closeSync, createReadStream, openSync, renameSync, rmSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import type { Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'

export type OutputTarget = string | Writable

/** A file written synchronously through a descriptor, published by `commit()`. */
export class FileSink {
  readonly tempPath: string
  private fd: number | undefined
  bytes = 0

  constructor(
    private readonly target: OutputTarget,
    tempDir: string,
  ) {
    const name = `.tally-${randomBytes(6).toString('hex')}.partial`
    this.tempPath = typeof target === 'string' ? `${target}${name}` : join(tempDir, name)
    this.fd = openSync(this.tempPath, 'w')
  }

  readonly write = (chunk: Uint8Array): void => {
    let at = 0
    while (at < chunk.length) at += writeSync(this.fd!, chunk, at, chunk.length - at)
    this.bytes += chunk.length
  }

  async commit(): Promise<void> {
    this.close()
    if (typeof this.target === 'string') {
      renameSync(this.tempPath, this.target)
      return
    }
    try {
      await pipeline(createReadStream(this.tempPath), this.target)
    } finally {
      rmSync(this.tempPath, { force: true })
    }
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
