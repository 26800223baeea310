/** Sequential synchronous reads of a file in large blocks, for the worker threads. */
import { closeSync, openSync, readSync } from 'node:fs'

export class FileReader {
  private readonly fd: number
  private buf: Uint8Array
  private start = 0
  private end = 0
  private filePosition: number
  private eof = false

  /** Reads bytes `[fileStart, fileEnd)` of the file: by default all of it. */
  constructor(
    path: string,
    blockBytes = 1 << 20,
    fileStart = 0,
    private readonly fileEnd = Number.POSITIVE_INFINITY,
  ) {
    this.fd = openSync(path, 'r')
    this.buf = new Uint8Array(blockBytes)
    this.filePosition = fileStart
  }

  /** The next `n` bytes (a view valid until the next call), or undefined at end of file. */
  read(n: number): Uint8Array | undefined {
    if (this.end - this.start < n && !this.fill(n)) return undefined
    const view = this.buf.subarray(this.start, this.start + n)
    this.start += n
    return view
  }

  /**
   * Makes `n` bytes available at `buffer[position]` without copying them out; false at end of
   * file. Consume them with `skip(n)`. For hot loops that read small records.
   */
  ensure(n: number): boolean {
    return this.end - this.start >= n || this.fill(n)
  }

  get buffer(): Uint8Array {
    return this.buf
  }

  get position(): number {
    return this.start
  }

  skip(n: number): void {
    this.start += n
  }

  /** True when no byte is left. */
  get done(): boolean {
    return this.start === this.end && !this.fill(1)
  }

  close(): void {
    closeSync(this.fd)
  }

  private fill(n: number): boolean {
    if (this.eof) return this.end - this.start >= n
    const live = this.end - this.start
    if (n > this.buf.length) {
      const next = new Uint8Array(Math.max(n, this.buf.length * 2))
      next.set(this.buf.subarray(this.start, this.end))
      this.buf = next
    } else {
      this.buf.copyWithin(0, this.start, this.end)
    }
    this.start = 0
    this.end = live
    while (this.end < n) {
      const read = readSync(
        this.fd,
        this.buf,
        this.end,
        Math.min(this.buf.length - this.end, this.fileEnd - this.filePosition),
        this.filePosition,
      )
      if (read === 0) {
        this.eof = true
        break
      }
      this.end += read
      this.filePosition += read
    }
    return this.end >= n
  }
}
