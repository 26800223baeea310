/**
 * Inspects an upload's header row as its first bytes arrive, with the engine's own rules (an
 * `Aggregator` in `headerOnly` mode), so a file the job would refuse at once (binary data, no
 * header, a required column missing or twice) is refused with 422 before a job exists.
 *
 * Gzip uploads (recognised by their magic number, whatever their name or content type) are
 * inspected too: the first compressed bytes go through a gunzip stream, flushed after each
 * chunk, until the header row is out. Damaged gzip data is refused (`CSV_BAD_GZIP`).
 *
 * The first bytes of the plain text are kept (up to the header row, at most `maxHeadBytes`), so
 * the header can be checked again against other columns (`recheck`): multipart option fields
 * that arrive after the file. A header row longer than `maxHeadBytes` is not inspected here; the
 * job decides.
 */
import { constants, createGunzip, type Gunzip } from 'node:zlib'
import { type AggregateSpec, Aggregator, EngineError } from '../../engine/index.js'

export const DEFAULT_MAX_HEAD_BYTES = 1024 * 1024

type State = 'pending' | 'accepted' | 'not-inspected'

export class HeaderInspector {
  private state: State = 'pending'
  private format: 'plain' | 'gzip' | undefined
  private aggregator: Aggregator
  private gunzip: Gunzip | undefined
  private gunzipError: Error | undefined
  private readonly head: Buffer[] = []
  private headBytes = 0
  /** Header names as found, once accepted. */
  header: readonly string[] | undefined

  private readonly maxHeadBytes: number
  private readonly partial: boolean

  constructor(
    spec: AggregateSpec,
    options: {
      maxHeadBytes?: number
      /**
       * The bytes are the first part of a file whose rest comes later (a chunked upload):
       * their end is not the file's end, so an unfinished header is not a refusal.
       */
      partial?: boolean
    } = {},
  ) {
    this.aggregator = new Aggregator(spec, { headerOnly: true })
    this.maxHeadBytes = options.maxHeadBytes ?? DEFAULT_MAX_HEAD_BYTES
    this.partial = options.partial ?? false
  }

  /** True once a decision was made: later bytes need not be shown. */
  get settled(): boolean {
    return this.state !== 'pending'
  }

  /** Feeds the next bytes of the upload. Rejects with an `EngineError` when the header is refused. */
  async push(chunk: Uint8Array): Promise<void> {
    if (this.settled || chunk.length === 0) return
    this.format ??= chunk[0] === 0x1f && chunk[1] === 0x8b ? 'gzip' : 'plain'
    if (this.format === 'plain') this.pushPlain(chunk, false)
    else await this.pushGzip(chunk)
  }

  /** The upload ended: a file without a complete header row is refused now (`CSV_EMPTY_FILE`). */
  async end(): Promise<void> {
    if (this.settled) return
    if (this.partial) {
      // The rest of the file may complete the header: the job's engine judges it.
      this.close()
      this.state = 'not-inspected'
      return
    }
    if (this.format === 'gzip') await this.endGzip()
    if (!this.settled) this.finish()
  }

  /** Checks the kept header row against another spec; throws the engine's error when refused. */
  recheck(spec: AggregateSpec): void {
    if (this.state !== 'accepted') return
    const aggregator = new Aggregator(spec, { headerOnly: true })
    aggregator.push(Buffer.concat(this.head))
    aggregator.end()
  }

  /** Releases the gunzip stream when the upload stops early. */
  close(): void {
    this.gunzip?.destroy()
    this.gunzip = undefined
  }

  private pushPlain(chunk: Uint8Array, fromGzip: boolean): void {
    const room = this.maxHeadBytes - this.headBytes
    const part = chunk.length > room ? chunk.subarray(0, room) : chunk
    this.head.push(Buffer.from(part))
    this.headBytes += part.length
    this.aggregator.push(part)
    if (this.aggregator.columnLayout) {
      this.accept()
    } else if (this.headBytes >= this.maxHeadBytes) {
      this.state = 'not-inspected'
      if (fromGzip) this.close()
    }
  }

  private finish(): void {
    this.aggregator.end()
    this.accept()
  }

  private accept(): void {
    this.state = 'accepted'
    this.header = this.aggregator.columnLayout?.header
    this.close()
  }

  /** Decompresses what is left (all of it was written already) before judging the header. */
  private async endGzip(): Promise<void> {
    const gunzip = this.gunzip
    if (gunzip && !gunzip.destroyed) {
      await new Promise<void>((resolve) => {
        gunzip.once('close', resolve)
        gunzip.once('end', resolve)
        gunzip.end()
      })
    }
    this.throwGzipError()
  }

  private async pushGzip(chunk: Uint8Array): Promise<void> {
    if (!this.gunzip) {
      const gunzip = createGunzip()
      gunzip.on('data', (plain: Buffer) => {
        try {
          if (!this.settled) this.pushPlain(plain, true)
        } catch (error) {
          this.gunzipError = error as Error
          this.close()
        }
      })
      gunzip.on('error', (error) => {
        this.gunzipError ??= error
      })
      this.gunzip = gunzip
    }
    const gunzip = this.gunzip
    await new Promise<void>((resolve) => {
      const done = () => {
        gunzip.off('close', done)
        resolve()
      }
      // Destroyed once the header is out (or on an error): pending callbacks may not come.
      gunzip.once('close', done)
      gunzip.write(chunk)
      // After a sync flush, everything the bytes so far decompress to has been emitted.
      gunzip.flush(constants.Z_SYNC_FLUSH, done)
    })
    this.throwGzipError()
  }

  private throwGzipError(): void {
    const error = this.gunzipError
    if (error === undefined) return
    this.close()
    if (error instanceof EngineError) throw error
    throw new EngineError(
      'CSV_BAD_GZIP',
      `the gzip data is damaged (${error.message}); expected a gzip-compressed CSV file`,
    )
  }
}
