/**
 * The page: Uppy's Dashboard uploads each dropped file with tus to `/uploads` (resuming after a
 * dropped connection), then each finished upload becomes a job (`POST /jobs` with its
 * `upload_id` and the chosen options) whose progress is followed live.
 */
import Uppy from '@uppy/core'
import Dashboard from '@uppy/dashboard'
import Tus from '@uppy/tus'
import '@uppy/core/css/style.min.css'
import '@uppy/dashboard/css/style.min.css'
import './style.css'
import { apiKey, authHeaders, setApiKey, startJob } from './api.js'
import { followJob } from './events.js'
import { JobCard } from './job-card.js'
import { renderRecent } from './recent.js'

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T

const order = $<HTMLSelectElement>('order')
const onError = $<HTMLSelectElement>('on_error')
const keyField = $<HTMLInputElement>('api_key')
const current = $<HTMLUListElement>('current')
const recent = $<HTMLUListElement>('recent')
const message = $<HTMLParagraphElement>('message')

function showError(text: string): void {
  message.textContent = text
  message.hidden = false
}

keyField.value = apiKey()
keyField.addEventListener('change', () => {
  setApiKey(keyField.value.trim())
  message.hidden = true
  message.textContent = ''
  void renderRecent(recent, showError)
})
$<HTMLButtonElement>('refresh').addEventListener('click', () => {
  void renderRecent(recent, showError)
})

const cards = new Map<string, JobCard>()

const uppy = new Uppy({
  autoProceed: true,
  restrictions: { allowedFileTypes: ['.csv', '.gz', '.txt', 'text/csv', 'application/gzip'] },
})
  .use(Dashboard, {
    inline: true,
    target: '#uploader',
    height: 300,
    width: '100%',
    proudlyDisplayPoweredByUppy: false,
    // The page's Content-Security-Policy keeps images to 'self' and data: URLs.
    disableThumbnailGenerator: true,
    note: 'CSV or gzip-compressed CSV with the columns Song, Date, Number of Plays',
  })
  .use(Tus, {
    endpoint: '/uploads',
    // Read per request: a key typed after the page loaded counts.
    headers: () => authHeaders(),
    chunkSize: 8 * 1024 * 1024,
    retryDelays: [0, 1000, 3000, 5000],
    removeFingerprintOnSuccess: true,
  })

uppy.on('file-added', (file) => {
  const card = new JobCard(file.name ?? 'upload')
  cards.set(file.id, card)
  current.prepend(card.element)
})

uppy.on('upload-progress', (file, progress) => {
  if (!file || !progress.bytesTotal) return
  cards.get(file.id)?.uploading((progress.bytesUploaded / progress.bytesTotal) * 100)
})

uppy.on('upload-error', (file, error) => {
  if (file) cards.get(file.id)?.failed(`Upload failed: ${plain(error.message)}`)
})

uppy.on('upload-success', (file, response) => {
  if (!file) return
  const card = cards.get(file.id)
  const uploadId = response.uploadURL?.split('/').pop()
  if (!card || !uploadId) return
  void run(card, uploadId)
})

// Each file has its card below: the dashboard is emptied, ready for the next files.
uppy.on('complete', () => uppy.clear())

async function run(card: JobCard, uploadId: string): Promise<void> {
  try {
    const job = await startJob(uploadId, order.value, onError.value)
    card.show(job)
    await followJob(job.job_id, (view) => card.show(view))
  } catch (error) {
    card.failed(plain((error as Error).message))
  }
  void renderRecent(recent, showError)
}

/** tus-js-client's messages carry the whole request; people need the first sentence. */
function plain(text: string): string {
  return text.split(', originated from request')[0] ?? text
}

void renderRecent(recent, showError)
