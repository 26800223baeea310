/**
 * The web UI in a real browser (Debian's Chromium, driven by playwright-core) against the real
 * service on 127.0.0.1: a generated file uploaded through Uppy's file input runs to completion
 * and its download equals the engine's own output; a file without a required column shows the
 * service's error; the recent jobs list cancels a running job and deletes a finished one, with
 * real buttons reached and pressed from the keyboard. Screenshots go to test-artifacts/
 * (git-ignored).
 */
import { execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type Browser, chromium, type Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { WEB_DIR } from '../../src/http/routes/root.js'
import { engineOutput, songPlays, startService, type TestService } from '../http/support/service.js'
import { largeCsv } from '../support/large-csv.js'

const CHROMIUM = '/usr/bin/chromium'
const ARTIFACTS = join(import.meta.dirname, '../../test-artifacts')
const hasChromium = existsSync(CHROMIUM)
if (!hasChromium)
  console.warn(`skipping the browser tests: ${CHROMIUM} is missing (apt-get install chromium)`)

describe.skipIf(!hasChromium)('web UI in Chromium', () => {
  let t: TestService
  let browser: Browser
  let page: Page

  beforeAll(async () => {
    // CI builds before testing; a bare `vitest` run builds the UI here.
    if (!existsSync(join(WEB_DIR, 'index.html'))) {
      execFileSync('npx', ['vite', 'build', '--logLevel', 'warn'], { stdio: 'inherit' })
    }
    await mkdir(ARTIFACTS, { recursive: true })
    t = await startService({ listen: true })
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    })
    const context = await browser.newContext({
      acceptDownloads: true,
      viewport: { width: 800, height: 900 },
    })
    page = await context.newPage()
    await page.goto(t.url)
  }, 120_000)

  afterAll(async () => {
    await browser?.close()
    await t?.close()
  })

  it('uploads a file, shows its job to the end, and downloads the exact totals', async () => {
    const csv = songPlays(20_000, 3)
    await page.selectOption('#order', 'sorted')
    await page.locator('.uppy-Dashboard-input').first().setInputFiles({
      name: 'plays.csv',
      mimeType: 'text/csv',
      buffer: csv,
    })
    const card = page.locator('li.card[data-status="succeeded"]', { hasText: 'plays.csv' })
    await card.waitFor({ timeout: 30_000 })
    await expect(card.locator('.line').textContent()).resolves.toMatch(/^Done: 20,000 rows/)
    await page.screenshot({ path: join(ARTIFACTS, 'ui-done.png') })

    const [download] = await Promise.all([
      page.waitForEvent('download'),
      card.getByRole('link', { name: 'Download totals' }).click(),
    ])
    const downloaded = await readFile(await download.path())
    expect(downloaded.equals(await engineOutput(csv, { order: 'sorted' }))).toBe(true)

    // The recent jobs list shows it too.
    await page.getByRole('button', { name: 'Refresh' }).click()
    await page.locator('#recent li[data-status="succeeded"]').first().waitFor()
  }, 60_000)

  it('shows the error of a file without a required column', async () => {
    await page
      .locator('.uppy-Dashboard-input')
      .first()
      .setInputFiles({
        name: 'no-plays.csv',
        mimeType: 'text/csv',
        buffer: Buffer.from('Song,Date\nUmbrella,2020-01-01\n'),
      })
    const card = page.locator('li.card[data-status="failed"]', { hasText: 'no-plays.csv' })
    await card.waitFor({ timeout: 30_000 })
    await expect(card.locator('.line').textContent()).resolves.toMatch(/Number of Plays/)
    await page.screenshot({ path: join(ARTIFACTS, 'ui-error.png') })
  }, 60_000)
})

describe.skipIf(!hasChromium)('web UI with API keys, on a phone-sized screen', () => {
  let t: TestService
  let browser: Browser

  beforeAll(async () => {
    t = await startService({ listen: true, env: { TALLY_API_KEYS: 'alice-key-1' } })
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    })
  }, 120_000)

  afterAll(async () => {
    await browser?.close()
    await t?.close()
  })

  it('sends the key typed in the field: upload, progress, download and the rejects link', async () => {
    const context = await browser.newContext({
      acceptDownloads: true,
      viewport: { width: 390, height: 844 },
    })
    const page = await context.newPage()
    await page.goto(t.url)
    // Without the key the recent jobs cannot be listed: the page says why.
    await page.locator('#message:not([hidden])').waitFor()
    await expect(page.locator('#message').textContent()).resolves.toMatch(/needs an API key/)

    await page.fill('#api_key', 'alice-key-1')
    await page.keyboard.press('Tab')
    const csv = songPlays(3_000, 4, 0.02)
    await page.locator('.uppy-Dashboard-input').first().setInputFiles({
      name: 'phone.csv',
      mimeType: 'text/csv',
      buffer: csv,
    })
    const card = page.locator('li.card[data-status="succeeded"]', { hasText: 'phone.csv' })
    await card.waitFor({ timeout: 30_000 })
    await card.getByRole('link', { name: /^\d+ rejected rows$/ }).waitFor()
    await page.screenshot({ path: join(ARTIFACTS, 'ui-phone.png'), fullPage: true })
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      card.getByRole('link', { name: 'Download totals' }).click(),
    ])
    const downloaded = await readFile(await download.path())
    expect(downloaded.equals(await engineOutput(csv, { onError: 'skip' }))).toBe(true)
    await context.close()
  }, 60_000)
})

describe.skipIf(!hasChromium)('web UI recent jobs: cancel and delete', () => {
  let t: TestService
  let browser: Browser
  let page: Page
  let dir: string

  beforeAll(async () => {
    if (!existsSync(join(WEB_DIR, 'index.html'))) {
      execFileSync('npx', ['vite', 'build', '--logLevel', 'warn'], { stdio: 'inherit' })
    }
    await mkdir(ARTIFACTS, { recursive: true })
    dir = await mkdtemp(join(tmpdir(), 'tally-ui-'))
    // One thread and the smallest memory budget: a 40 MB file with many groups spills to disk
    // and runs for seconds, long enough to be canceled from the page.
    t = await startService({
      listen: true,
      env: { TALLY_THREADS: '1', TALLY_MEMORY_MB: '16', TALLY_CONCURRENCY: '1' },
    })
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    })
    page = await (await browser.newContext({ viewport: { width: 800, height: 900 } })).newPage()
    await page.goto(t.url)
  }, 120_000)

  afterAll(async () => {
    await browser?.close()
    await t?.close()
    if (dir) await rm(dir, { recursive: true, force: true })
  })

  const jobStatus = async (id: string) => {
    const response = await fetch(`${t.url}/jobs/${id}`)
    return response.status === 200 ? ((await response.json()) as { status: string }).status : null
  }

  /** Tabs from the Refresh button until `target` has the focus (it is in the tab order). */
  async function tabTo(target: ReturnType<Page['locator']>): Promise<void> {
    await page.getByRole('button', { name: 'Refresh', exact: true }).focus()
    for (let presses = 0; presses < 40; presses++) {
      if ((await target.and(page.locator(':focus')).count()) === 1) return
      await page.keyboard.press('Tab')
    }
    throw new Error('the button cannot be reached with Tab')
  }

  it('cancels a running job from the list, with the keyboard', async () => {
    const path = join(dir, 'slow.csv')
    await writeFile(path, largeCsv(5, 40 * 1024 * 1024))
    await page.locator('.uppy-Dashboard-input').first().setInputFiles(path)
    const card = page.locator('li.card', { hasText: 'slow.csv' })
    await card.and(page.locator('[data-status="running"]')).waitFor({ timeout: 90_000 })
    const id = (await card.getAttribute('data-job-id')) ?? ''
    expect(id).toMatch(/^job_/)

    await page.getByRole('button', { name: 'Refresh', exact: true }).click()
    const row = page.locator(`#recent li[data-job-id="${id}"]`)
    await row.and(page.locator('[data-status="running"]')).waitFor()
    // A real <button>, named after its job.
    const cancel = row.getByRole('button', { name: 'Cancel slow.csv', exact: true })
    expect(await cancel.evaluate((element) => element.tagName)).toBe('BUTTON')
    await tabTo(cancel)
    await page.keyboard.press('Enter')

    // The service says canceled (not succeeded); the page says so too, in the card and the list.
    for (const deadline = Date.now() + 30_000; Date.now() < deadline; ) {
      if ((await jobStatus(id)) !== 'running') break
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    expect(await jobStatus(id)).toBe('canceled')
    await row.and(page.locator('[data-status="canceled"]')).waitFor({ timeout: 30_000 })
    await card.and(page.locator('[data-status="canceled"]')).waitFor({ timeout: 30_000 })
    await expect(card.locator('.line').textContent()).resolves.toBe('Canceled.')
    // The focus stays on the job's row: its next action, Delete.
    const remove = row.getByRole('button', { name: 'Delete slow.csv', exact: true })
    expect(await remove.and(page.locator(':focus')).count()).toBe(1)
    await page.screenshot({ path: join(ARTIFACTS, 'ui-canceled.png') })
  }, 180_000)

  it('deletes a finished job from the list: the row goes and the API forgets it', async () => {
    const submitted = await fetch(`${t.url}/jobs?file_name=tiny.csv`, {
      method: 'POST',
      headers: { 'content-type': 'text/csv' },
      body: songPlays(500, 9),
    })
    expect(submitted.status).toBe(202)
    const id = ((await submitted.json()) as { job_id: string }).job_id
    for (const deadline = Date.now() + 60_000; Date.now() < deadline; ) {
      if ((await jobStatus(id)) === 'succeeded') break
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    expect(await jobStatus(id)).toBe('succeeded')

    await page.getByRole('button', { name: 'Refresh', exact: true }).click()
    const row = page.locator(`#recent li[data-job-id="${id}"]`)
    await row.and(page.locator('[data-status="succeeded"]')).waitFor()
    const remove = row.getByRole('button', { name: 'Delete tiny.csv', exact: true })
    expect(await remove.evaluate((element) => element.tagName)).toBe('BUTTON')
    await tabTo(remove)
    await page.keyboard.press('Space')

    await row.waitFor({ state: 'detached', timeout: 30_000 })
    expect((await fetch(`${t.url}/jobs/${id}`)).status).toBe(404)
    expect((await fetch(`${t.url}/jobs/${id}/result`)).status).toBe(404)
    // The row is gone: the focus is on the list, not lost at the top of the page.
    expect(await page.locator('#recent:focus').count()).toBe(1)
  }, 120_000)
})
