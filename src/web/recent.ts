/**
 * The list of recent jobs: status, size, duration, and download / cancel / delete. The actions
 * are real buttons named after their job ("Cancel plays.csv"); after one, the list is read again
 * and the focus goes to that job's next action (Delete, once canceled), or to the list when the
 * row is gone, so a keyboard user never lands back at the top of the page.
 */
import { deleteJob, type JobView, listJobs } from './api.js'
import { downloadLink } from './download.js'
import { bytes, seconds } from './format.js'

/**
 * Reads the list again. A row that had the focus keeps it across the redraw (the page redraws
 * whenever one of its jobs ends); `focusJob` moves it to that job's row after an action.
 */
export async function renderRecent(
  list: HTMLElement,
  onError: (message: string) => void,
  focusJob?: string,
) {
  let jobs: JobView[]
  try {
    jobs = await listJobs()
  } catch (error) {
    onError((error as Error).message)
    return
  }
  const active = document.activeElement
  const focused =
    active instanceof HTMLElement && active !== list && list.contains(active)
      ? active.closest('li')?.dataset.jobId
      : undefined
  list.replaceChildren(...jobs.map((job) => row(job, list, onError)))
  if (jobs.length === 0) list.textContent = 'No jobs yet.'
  const keep = focusJob ?? focused
  if (keep !== undefined) refocus(list, keep)
}

/** After an action on `jobId`: its row's button, or the list itself when the row is gone. */
function refocus(list: HTMLElement, jobId: string): void {
  const button = [...list.querySelectorAll<HTMLLIElement>('li')]
    .find((item) => item.dataset.jobId === jobId)
    ?.querySelector('button')
  if (button) {
    button.focus()
    return
  }
  list.tabIndex = -1
  list.focus()
}

function row(job: JobView, list: HTMLElement, onError: (message: string) => void): HTMLLIElement {
  const item = document.createElement('li')
  item.dataset.status = job.status
  item.dataset.jobId = job.job_id
  const duration = job.result ? `, ${seconds(job.result.duration_ms / 1000)}` : ''
  const text = document.createElement('span')
  text.textContent = `${job.file_name}: ${job.status}, ${bytes(job.file_bytes)}${duration}`
  item.append(text, ' ')
  if (job.links.result) item.append(downloadLink(job.links.result, 'Download', 'totals.csv'), ' ')
  const running = job.status === 'queued' || job.status === 'running'
  const action = document.createElement('button')
  action.type = 'button'
  action.textContent = running ? 'Cancel' : 'Delete'
  action.setAttribute('aria-label', `${action.textContent} ${job.file_name}`)
  action.addEventListener('click', async () => {
    action.disabled = true
    try {
      await deleteJob(job.job_id)
    } catch (error) {
      onError((error as Error).message)
    }
    await renderRecent(list, onError, job.job_id)
  })
  item.append(action)
  return item
}
