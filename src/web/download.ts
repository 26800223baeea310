/**
 * Downloads a job file. Without an API key a plain link does (the browser streams it to disk);
 * with one, the file is fetched with the key header and handed over as a blob, since a link
 * cannot carry a header.
 */
import { api, apiKey } from './api.js'

export function downloadLink(path: string, label: string, fileName: string): HTMLAnchorElement {
  const link = document.createElement('a')
  link.href = path
  link.textContent = label
  link.className = 'button'
  link.setAttribute('download', fileName)
  link.addEventListener('click', (event) => {
    if (!apiKey()) return
    event.preventDefault()
    void viaFetch(path, fileName)
  })
  return link
}

async function viaFetch(path: string, fileName: string): Promise<void> {
  const response = await api(path, { headers: { accept: '*/*' } })
  const url = URL.createObjectURL(await response.blob())
  const link = document.createElement('a')
  link.href = url
  link.download = fileName
  link.click()
  setTimeout(() => URL.revokeObjectURL(url), 60_000)
}
