/**
 * One job as it runs: a progress bar with percent, rows, MB/s and ETA, updated from the event
 * stream; at the end a download button and the rejects link with their count, or the error in
 * plain words.
 */
import type { JobView } from './api.js'
import { downloadLink } from './download.js'
import { bytes, count, seconds } from './format.js'

export class JobCard {
  readonly element: HTMLLIElement
  private readonly title: HTMLElement
  private readonly bar: HTMLProgressElement
  private readonly line: HTMLElement
  private readonly actions: HTMLElement
  private last: { at: number; bytes: number } | undefined
  private rate = 0

  constructor(fileName: string) {
    this.element = document.createElement('li')
    this.element.className = 'card'
    this.title = document.createElement('strong')
    this.title.textContent = fileName
    this.bar = document.createElement('progress')
    this.bar.max = 100
    this.bar.setAttribute('aria-label', `progress of ${fileName}`)
    this.line = document.createElement('p')
    this.line.className = 'line'
    this.actions = document.createElement('p')
    this.actions.className = 'actions'
    this.element.append(this.title, this.bar, this.line, this.actions)
  }

  uploading(percent: number): void {
    this.bar.value = percent
    this.line.textContent = `Uploading: ${Math.round(percent)}%`
  }

  failed(message: string): void {
    this.element.dataset.status = 'failed'
    this.bar.value = 0
    this.line.textContent = message
    this.line.className = 'line error'
  }

  show(view: JobView): void {
    this.element.dataset.status = view.status
    this.element.dataset.jobId = view.job_id
    if (view.status === 'succeeded') {
      this.succeeded(view)
      return
    }
    if (view.status === 'failed') {
      const where = view.error?.line ? ` (line ${view.error.line})` : ''
      this.failed(`Failed: ${view.error?.message ?? 'unknown error'}${where}`)
      return
    }
    if (view.status === 'canceled') {
      // Asked for (here or from the recent jobs list): not an error, and marked as canceled.
      this.bar.value = 0
      this.line.textContent = 'Canceled.'
      this.line.className = 'line'
      return
    }
    const progress = view.progress
    if (!progress || view.status === 'queued') {
      this.line.textContent = 'Waiting in the queue…'
      return
    }
    this.measure(progress.bytes_done)
    this.bar.value = progress.percent ?? 0
    const parts = [
      `${Math.round(progress.percent ?? 0)}%`,
      `${count(progress.rows)} rows`,
      `${(this.rate / 1e6).toFixed(1)} MB/s`,
    ]
    if (progress.eta_seconds !== null) parts.push(`about ${seconds(progress.eta_seconds)} left`)
    this.line.textContent = parts.join(' · ')
  }

  private measure(bytesDone: number): void {
    const now = performance.now()
    if (this.last && now > this.last.at) {
      this.rate = ((bytesDone - this.last.bytes) * 1000) / (now - this.last.at)
    }
    this.last = { at: now, bytes: bytesDone }
  }

  private succeeded(view: JobView): void {
    this.bar.value = 100
    const result = view.result
    this.line.textContent = result
      ? `Done: ${count(result.rows_read)} rows, ${count(result.groups)} totals, ${bytes(result.output_bytes)} in ${seconds(result.duration_ms / 1000)}.`
      : 'Done.'
    this.actions.replaceChildren()
    if (view.links.result) {
      const name = `${view.file_name.replace(/\.(csv|gz)+$/i, '')}-totals.csv`
      this.actions.append(downloadLink(view.links.result, 'Download totals', name))
    }
    if (view.links.rejects && result && result.rows_rejected > 0) {
      this.actions.append(
        ' ',
        downloadLink(
          view.links.rejects,
          `${count(result.rows_rejected)} rejected rows`,
          `${view.job_id}-rejects.csv`,
        ),
      )
    }
  }
}
