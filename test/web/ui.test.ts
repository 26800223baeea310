/**
 * The web UI in a real browser (Debian's Chromium, driven by playwright-core) against the real
 * service on 127.0.0.1: a generated file uploaded through Uppy's file input runs to completion
 * and its download equals the engine's own output; a file without a required column shows the
 * service's error. Screenshots go to test-artifacts/ (git-ignored).
 */
import { execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { type Browser, chromium, type Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { WEB_DIR } from '../../src/http/routes/root.js'
import { engineOutput, songPlays, startService, type TestService } from '../http/support/service.js'

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
