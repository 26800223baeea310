/** A one-line progress bar on a terminal: percent, MB, MB/s, rows and time left. */
import type { AggregateProgress } from '../engine/index.js'

export interface ProgressBar {
  update(progress: AggregateProgress): void
  done(): void
}

export function createProgressBar(stream: NodeJS.WriteStream): ProgressBar {
  if (!stream.isTTY) return { update: () => {}, done: () => {} }
  const started = Date.now()
  let drawn = false
  return {
    update(p) {
      const seconds = (Date.now() - started) / 1000
      const mb = p.bytesDone / 1e6
      const rate = seconds > 0 ? mb / seconds : 0
      const total = p.bytesTotal
      const fraction = total ? Math.min(1, p.bytesDone / total) : undefined
      const width = 24
      const bar =
        fraction === undefined
          ? ''
          : `[${'#'.repeat(Math.round(fraction * width)).padEnd(width, '.')}] ${(fraction * 100).toFixed(0).padStart(3)}% `
      const eta =
        fraction !== undefined && rate > 0 && total
          ? ` ETA ${formatSeconds((total / 1e6 - mb) / rate)}`
          : ''
      const phase = p.phase === 'reading' ? '' : ` ${p.phase}`
      stream.write(
        `\r${bar}${mb.toFixed(0)} MB ${rate.toFixed(0)} MB/s ${p.rows.toLocaleString('en-US')} rows${eta}${phase}\x1b[K`,
      )
      drawn = true
    },
    done() {
      if (drawn) stream.write('\r\x1b[K')
    },
  }
}

export function formatSeconds(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?'
  if (seconds < 60) return `${seconds.toFixed(0)}s`
  const minutes = Math.floor(seconds / 60)
  return `${minutes}m${String(Math.round(seconds % 60)).padStart(2, '0')}s`
}
