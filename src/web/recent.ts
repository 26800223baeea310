/** The list of recent jobs: status, size, duration, and download / cancel / delete. */
import { deleteJob, type JobView, listJobs } from './api.js'
import { downloadLink } from './download.js'
import { bytes, seconds } from './format.js'

export async function renderRecent(list: HTMLElement, onError: (message: string) => void) {
  let jobs: JobView[]
  try {
    jobs = await listJobs()
  } catch (error) {
    onError((error as Error).message)
    return
  }
  list.replaceChildren(...jobs.map((job) => row(job, list, onError)))
  if (jobs.length === 0) list.textContent = 'No jobs yet.'
}

function row(job: JobView, list: HTMLElement, onError: (message: string) => void): HTMLLIElement {
  const item = document.createElement('li')
  item.dataset.status = job.status
  const duration = job.result ? `, ${seconds(job.result.duration_ms / 1000)}` : ''
  const text = document.createElement('span')
  text.textContent = `${job.file_name}: ${job.status}, ${bytes(job.file_bytes)}${duration}`
  item.append(text, ' ')
  if (job.links.result) item.append(downloadLink(job.links.result, 'Download', 'totals.csv'), ' ')
  const running = job.status === 'queued' || job.status === 'running'
  const action = document.createElement('button')
  action.type = 'button'
  action.textContent = running ? 'Cancel' : 'Delete'
  action.addEventListener('click', async () => {
    try {
      await deleteJob(job.job_id)
      await renderRecent(list, onError)
    } catch (error) {
      onError((error as Error).message)
    }
  })
  item.append(action)
  return item
}
