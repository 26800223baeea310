/**
 * The service's API as the page uses it: the API key (kept in localStorage) goes with every
 * request as `X-API-Key`, and problem+json answers become `ApiError`s with their plain message.
 */
export interface JobView {
  job_id: string
  status: 'queued' | 'running' | 'succeeded' | 'failed' | 'canceled'
  created_at: string
  started_at: string | null
  finished_at: string | null
  file_name: string
  file_bytes: number
  progress: {
    bytes_done: number
    bytes_total: number | null
    rows: number
    rejected: number
    percent: number | null
    eta_seconds: number | null
    phase: string
  } | null
  result: {
    rows_read: number
    rows_rejected: number
    groups: number
    output_bytes: number
    duration_ms: number
  } | null
  error: { code: string; message: string; line: number | null } | null
  links: { result: string | null; rejects: string | null }
}

const KEY_STORAGE = 'tally.apiKey'

export function apiKey(): string {
  return localStorage.getItem(KEY_STORAGE) ?? ''
}

export function setApiKey(key: string): void {
  if (key) localStorage.setItem(KEY_STORAGE, key)
  else localStorage.removeItem(KEY_STORAGE)
}

export function authHeaders(): Record<string, string> {
  const key = apiKey()
  return key ? { 'x-api-key': key } : {}
}

export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message)
  }
}

export async function api(path: string, init: RequestInit = {}): Promise<Response> {
  let response: Response
  try {
    response = await fetch(path, {
      ...init,
      headers: { accept: 'application/json', ...authHeaders(), ...init.headers },
    })
  } catch {
    throw new ApiError('The service cannot be reached. Check your connection and try again.', 0)
  }
  if (response.status === 401) {
    const text = apiKey() ? 'The API key is not valid.' : 'This service needs an API key.'
    throw new ApiError(`${text} Type it in the "API key" field.`, 401)
  }
  if (!response.ok) throw new ApiError(await problemText(response), response.status)
  return response
}

async function problemText(response: Response): Promise<string> {
  try {
    const problem = (await response.json()) as { detail?: string; title?: string }
    return problem.detail ?? problem.title ?? `The service answered ${response.status}.`
  } catch {
    return `The service answered ${response.status}.`
  }
}

export async function startJob(uploadId: string, order: string, onError: string): Promise<JobView> {
  const response = await api('/jobs', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ upload_id: uploadId, order, on_error: onError }),
  })
  return (await response.json()) as JobView
}

export async function listJobs(): Promise<JobView[]> {
  const response = await api('/jobs?limit=20')
  return ((await response.json()) as { jobs: JobView[] }).jobs
}

export async function deleteJob(id: string): Promise<void> {
  await api(`/jobs/${encodeURIComponent(id)}`, { method: 'DELETE' })
}
