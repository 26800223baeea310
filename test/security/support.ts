/** Helpers the security tests share: tus uploads over real HTTP, files outside the data dir. */
import { existsSync, readdirSync, statSync } from 'node:fs'
import { request as httpRequest } from 'node:http'
import { join } from 'node:path'

export const TUS = { 'tus-resumable': '1.0.0' }

/** Creates a tus upload of `content` and sends all of it; returns its id. */
export async function tusUpload(
  url: string,
  content: Buffer | string,
  headers: Record<string, string> = {},
  fileName = 'plays.csv',
): Promise<string> {
  const body = Buffer.from(content)
  const created = await fetch(`${url}/uploads`, {
    method: 'POST',
    headers: {
      ...TUS,
      ...headers,
      'upload-length': String(body.length),
      'upload-metadata': `filename ${Buffer.from(fileName).toString('base64')}`,
    },
  })
  if (created.status !== 201) throw new Error(`tus create: ${created.status}`)
  const id = (created.headers.get('location') ?? '').split('/').pop() ?? ''
  const sent = await fetch(`${url}/uploads/${id}`, {
    method: 'PATCH',
    headers: {
      ...TUS,
      ...headers,
      'upload-offset': '0',
      'content-type': 'application/offset+octet-stream',
    },
    body,
  })
  if (sent.status !== 204) throw new Error(`tus patch: ${sent.status}`)
  return id
}

/** Every file under `dir` (recursively) with its size and modification time. */
export function snapshot(dir: string): Map<string, string> {
  const files = new Map<string, string>()
  if (!existsSync(dir)) return files
  const walk = (at: string) => {
    for (const entry of readdirSync(at, { withFileTypes: true })) {
      const path = join(at, entry.name)
      if (entry.isDirectory()) walk(path)
      else {
        const s = statSync(path)
        files.set(path, `${s.size}:${s.mtimeMs}`)
      }
    }
  }
  walk(dir)
  return files
}

/**
 * `METHOD /path` for every route of the app, read from Fastify's route tree (`printRoutes`:
 * one line per node, four characters of indent per level, the methods in parentheses).
 */
export function appRoutes(tree: string): string[] {
  const routes: string[] = []
  const stack: string[] = []
  for (const line of tree.split('\n')) {
    const match = /^((?:│ {3}| {4})*)(?:├── |└── )(.*?)(?: \(([^)]*)\))?$/.exec(line)
    if (!match) continue
    const depth = match[1]!.length / 4
    const parent = stack[depth - 1] ?? ''
    const segment = match[2]!
    // A '/' node without a route of its own is not printed: `/uploads` then `*` is `/uploads/*`.
    const slash = /^[*:]/.test(segment) && !parent.endsWith('/') ? '/' : ''
    const path = parent + slash + segment
    stack[depth] = path
    stack.length = depth + 1
    for (const method of match[3]?.split(', ') ?? []) routes.push(`${method} ${path}`)
  }
  return routes
}

export interface RawAnswer {
  status: number
  headers: Record<string, string | string[] | undefined>
  body: string
}

/** One request with `path` sent exactly as written (no URL parsing, no dot-segment removal). */
export function send(
  base: string,
  method: string,
  path: string,
  headers: Record<string, string> = {},
  body?: Buffer | string,
): Promise<RawAnswer> {
  const url = new URL(base)
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: url.hostname, port: url.port, method, path, headers },
      (res) => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString(),
          }),
        )
        res.on('error', reject)
      },
    )
    req.on('error', reject)
    req.setTimeout(30_000, () => req.destroy(new Error(`timeout: ${method} ${path}`)))
    if (body !== undefined) req.write(body)
    req.end()
  })
}
