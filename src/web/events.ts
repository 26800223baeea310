/**
 * Follows `GET /jobs/{id}/events`. EventSource cannot send the API key header, so the stream is
 * read with fetch and parsed here (the SSE format: `event:` and `data:` lines, blank line ends an
 * event). Calls `onView` with each job view until the final `status` event.
 */
import { api, type JobView } from './api.js'

export async function followJob(
  id: string,
  onView: (view: JobView) => void,
  signal?: AbortSignal,
): Promise<void> {
  const response = await api(`/jobs/${encodeURIComponent(id)}/events`, {
    headers: { accept: 'text/event-stream' },
    signal,
  })
  if (!response.body) return
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader()
  let buffer = ''
  for (;;) {
    const { value, done } = await reader.read()
    if (done) return
    buffer += value
    let end = buffer.indexOf('\n\n')
    while (end >= 0) {
      const block = buffer.slice(0, end)
      buffer = buffer.slice(end + 2)
      const data = block
        .split('\n')
        .filter((line) => line.startsWith('data:'))
        .map((line) => line.slice(5).trimStart())
        .join('\n')
      if (data) onView(JSON.parse(data) as JobView)
      end = buffer.indexOf('\n\n')
    }
  }
}
