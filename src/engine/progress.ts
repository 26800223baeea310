/** Progress of one aggregation, reported through a callback a few times a second. */
export interface AggregateProgress {
  /** Input bytes processed (compressed bytes when the input is gzip). */
  bytesDone: number
  /** Input size in bytes, when known. */
  bytesTotal: number | undefined
  rows: number
  rejected: number
  /** Distinct groups so far (an upper bound while threads have not merged). */
  groups: number
  /** `receiving`: a stream or gzip file is being written to a temporary file first. */
  phase: 'receiving' | 'reading' | 'merging' | 'writing' | 'done'
}

export type ProgressListener = (progress: AggregateProgress) => void

/** Calls `listener` at most every `intervalMs`, and always for a change of phase. */
export function throttleProgress(
  listener: ProgressListener | undefined,
  intervalMs = 200,
): ProgressListener {
  if (!listener) return () => {}
  let last = 0
  let lastPhase = ''
  return (progress) => {
    const now = Date.now()
    if (now - last < intervalMs && progress.phase === lastPhase) return
    last = now
    lastPhase = progress.phase
    listener(progress)
  }
}
