/**
 * The dashboard in a real browser: Debian's chromium driven by playwright-core (no browser
 * download), against a real `celeriac worker --events` process and a real `celeriac dashboard`
 * process on SQLite. Signs in, watches a task sent by the test appear on the tasks page without a
 * reload, opens its detail, pauses a queue and sees the worker stop taking from it, revokes the
 * task waiting there, replays a dead letter, and checks that a task whose arguments and error
 * carry `<script>` shows them as text with no script run. Also: the Overview's per-queue chart,
 * paging through a queue's waiting jobs, a filter on the tasks page, "retry now" on a failed
 * task, a run-time rate limit set from the Workers page, and a chain's workflow tree on its
 * steps' pages (states, links, keyboard).
 *
 * Screenshots of every page (light and dark, laptop and phone width) go to a temp dir printed as
 * a test diagnostic; with DASHBOARD_SCREENSHOTS=<dir> they also go there (docs/dashboard/ holds
 * one set made that way).
 */
import assert from 'node:assert/strict'
import { existsSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { chromium, type Browser, type Page } from 'playwright-core'
import { chain, createApp, createBeat, type App } from 'celeriac'
import { run, tempDir, until, ROOT, type Proc } from './helpers.js'

const FIXTURE = join(ROOT, 'test/fixtures/dashboard-tasks.ts')
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'
const PASSWORD = 'correct horse battery staple'
// Markup that would set a window flag if it were ever parsed as HTML and run.
const XSS = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">'

const SIZES = {
  laptop: { width: 1280, height: 800 },
  phone: { width: 390, height: 844 },
} as const

describe('dashboard in a real browser (chromium, real worker and dashboard processes, SQLite)', () => {
  const procs: Proc[] = []
  const apps: App[] = []
  let browser: Browser | null = null
  after(async () => {
    await browser?.close()
    for (const p of procs) p.kill('SIGKILL')
    for (const a of apps) await a.close()
  })

  it('signs in, shows tasks live, acts on queues, tasks and dead letters, never runs task data', async (t) => {
    if (!existsSync(CHROMIUM)) throw new Error(`no browser at ${CHROMIUM}: apt-get install chromium`)
    const url = `sqlite://${join(tempDir(), 'queue.db')}`
    const app = createApp({ broker: url })
    apps.push(app)
    const env = { CELERIAC_BROKER: url, CELERIAC_DASHBOARD_PASSWORD: PASSWORD }
    const worker = run(
      ['-A', FIXTURE, 'worker', '--no-banner', '-E', '-n', 'w1', '-c', '2', '--heartbeat', '300ms'],
      env,
    )
    procs.push(worker)
    const dash = run(['-A', FIXTURE, 'dashboard', '--port', '0'], env)
    procs.push(dash)
    await dash.waitFor(/celeriac dashboard on http:\/\/\S+/)
    const base = /celeriac dashboard on (http:\/\/\S+)/.exec(dash.output())![1]!.replace(/\/$/, '')

    const shots = tempDir('celeriac-dashboard-shots-')
    const keep = process.env.DASHBOARD_SCREENSHOTS
    if (keep) mkdirSync(keep, { recursive: true })
    t.diagnostic(`screenshots in ${shots}`)

    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] })
    const context = await browser.newContext({ viewport: SIZES.laptop })
    const page = await context.newPage()
    const pageErrors: string[] = []
    page.on('pageerror', (e) => pageErrors.push(e.message))
    page.on('console', (m) => {
      if (m.type() === 'error') pageErrors.push(`${m.text()} ${m.location().url}`)
    })

    // Sign in: a page asked for without a session goes to the form.
    await page.goto(`${base}/tasks`)
    assert.equal(new URL(page.url()).pathname, '/login')
    await page.fill('input[name=password]', 'wrong')
    await page.click('button[type=submit]')
    await page.waitForURL(/\/login\?failed=1$/)
    await page.locator('[role=alert]').waitFor()
    await page.fill('input[name=password]', PASSWORD)
    await page.click('button[type=submit]')
    await page.waitForURL(`${base}/`)
    await page.getByRole('heading', { name: 'Overview' }).waitFor()

    // The tasks page, opened from the navigation; a task sent now appears without a reload.
    await page.getByRole('navigation').getByRole('link', { name: 'Tasks' }).click()
    await page.getByRole('heading', { name: 'Tasks' }).waitFor()
    await page.locator('#live.on').waitFor()
    await page.evaluate(() => ((globalThis as unknown as { __sameDocument: number }).__sameDocument = 1))
    const echo = await app.sendTask('echo', ['hello from the test'])
    const row = page.locator('tr', { has: page.locator(`a[href="tasks/${echo.id}"]`) })
    await row.getByText('SUCCESS').waitFor({ timeout: 20_000 })
    assert.equal(
      await page.evaluate(() => (globalThis as unknown as { __sameDocument?: number }).__sameDocument),
      1,
      'the row came in live, the page was not reloaded',
    )

    // Its detail: a shareable URL with the result.
    await row.locator('a').click()
    await page.waitForURL(`${base}/tasks/${echo.id}`)
    await page.getByText(echo.id, { exact: true }).waitFor()
    await page.locator('pre', { hasText: 'hello from the test' }).first().waitFor()

    // A small chain with a link callback: a step's page shows the workflow, every task in it with
    // its state (live: the callback's turns SUCCESS once it ran) and a link to its own page.
    const echoTask = app.task('echo', (_ctx, value: unknown) => value)
    const flow = await chain(echoTask.s('step one'), echoTask.s(), echoTask.s().link(echoTask.s())).apply()
    assert.equal(await flow.get({ timeout: 20_000 }), 'step one')
    await page.goto(`${base}/tasks/${flow.id}.0`)
    const tree = page.locator('.flow-tree')
    await tree.getByText('chain of 3').waitFor()
    const steps = tree.locator('li[data-kind="chain"] > ul > li[data-kind="task"]')
    assert.equal(await steps.count(), 3)
    for (const [i, id] of [`${flow.id}.0`, `${flow.id}.1`, flow.id].entries()) {
      assert.equal(await steps.nth(i).getAttribute('data-id'), id)
      await steps.nth(i).locator(':scope > .badge', { hasText: 'SUCCESS' }).waitFor()
      assert.equal(await steps.nth(i).locator(':scope > a').getAttribute('href'), `tasks/${id}`)
    }
    assert.equal(await tree.locator('a[aria-current="true"]').getAttribute('href'), `tasks/${flow.id}.0`)
    const callback = steps.nth(2).locator('li[data-kind="link"]')
    await callback.getByText('on success →').waitFor()
    await callback.locator('.badge', { hasText: 'SUCCESS' }).waitFor({ timeout: 20_000 })
    await callback.locator('a', { hasText: 'echo' }).waitFor()
    // Keyboard: the second step's link takes focus and Enter opens its page, tree and all.
    await steps.nth(1).locator(':scope > a').focus()
    await page.keyboard.press('Enter')
    await page.waitForURL(`${base}/tasks/${flow.id}.1`)
    await page.getByText(`${flow.id}.1`, { exact: true }).waitFor()
    await tree.locator('li.here[data-id="' + flow.id + '.1"] a[aria-current="true"]').waitFor()
    await shoot(page, 'task-tree')

    // Task data with markup is shown as text: on the list, the detail and the dead letters.
    const boom = await app.sendTask('boom', [XSS])
    await assert.rejects(boom.get({ timeout: 20_000 }))
    await page.goto(`${base}/tasks`)
    await page.locator(`a[href="tasks/${boom.id}"]`).click()
    await page.waitForURL(`${base}/tasks/${boom.id}`)
    await page
      .locator('pre', { hasText: `boom ${XSS}` })
      .first()
      .waitFor()
    await page.locator('pre', { hasText: XSS }).first().waitFor()

    // Pause the default queue from the queues page; the worker takes nothing more from it.
    await page.getByRole('navigation').getByRole('link', { name: 'Queues' }).click()
    const queueRow = page.locator('tr', { has: page.locator('td', { hasText: /^default$/ }) })
    await queueRow.getByRole('button', { name: 'Pause' }).click()
    await queueRow.getByText('paused').waitFor()
    const held = await app.sendTask('echo', ['held'])
    await until(
      async () => (await queueRow.locator('td.num').first().textContent()) === '1',
      20_000,
      'the queues page shows one waiting, live',
    )
    await new Promise((r) => setTimeout(r, 1500))
    assert.equal(await held.state(), 'PENDING', 'a paused queue delivers nothing to the worker')
    await shoot(page, 'queues')

    // The queue's waiting jobs, a page of 20 at a time: 25 wait while it is paused.
    for (let i = 0; i < 24; i++) await app.sendTask('echo', [`waiting ${i}`])
    await queueRow.getByRole('link', { name: 'default' }).click()
    await page.waitForURL(/\/queues\?queue=default&state=waiting$/)
    const range = page.locator('.queue-jobs [data-range]')
    await range.getByText('1–20 of 25').waitFor()
    assert.equal(await page.locator('.queue-jobs tbody tr').count(), 20)
    await page.getByRole('link', { name: 'waiting (25)' }).waitFor()
    await shoot(page, 'queue-jobs')
    await page.locator('.queue-jobs').getByRole('link', { name: 'Next →' }).click()
    await range.getByText('21–25 of 25').waitFor()
    assert.equal(await page.locator('.queue-jobs tbody tr').count(), 5)
    await page.locator('.queue-jobs', { hasText: 'waiting 23' }).waitFor()
    await page.locator('.queue-jobs').getByRole('link', { name: '← Previous' }).waitFor()

    // Revoke the task waiting there, from its detail page.
    await page.goto(`${base}/tasks/${held.id}`)
    await page.getByText('No worker has reported this task yet').waitFor()
    page.once('dialog', (d) => void d.accept())
    await page.getByRole('button', { name: 'Revoke…' }).click()
    await page.locator('#toast', { hasText: 'revoke: done' }).waitFor()

    // Resume: the worker takes from the queue again and drops the revoked task.
    await page.goto(`${base}/queues`)
    await queueRow.getByRole('button', { name: 'Resume' }).click()
    await queueRow.getByText('online').waitFor()
    await assert.rejects(held.get({ timeout: 20_000 }), { name: 'TaskRevokedError' })
    const after = await app.sendTask('echo', ['after resume'])
    assert.equal(await after.get({ timeout: 20_000 }), 'after resume')

    // Dead letters: the failed task with its markup as text; replay runs it again.
    await page.getByRole('navigation').getByRole('link', { name: 'Dead letters' }).click()
    const deadRow = page.locator('tr', { has: page.locator(`a[href="tasks/${boom.id}"]`) })
    await deadRow.getByText(`failed: Error: boom ${XSS}`).waitFor()
    const broker = await app.broker()
    const before = (await broker.listDead({ limit: 10, offset: 0 })).find((d) => d.id === boom.id)!
    await shoot(page, 'dead')
    await deadRow.getByRole('button', { name: 'Replay' }).click()
    await page.locator('#toast', { hasText: 'replay: done' }).waitFor()
    await until(
      async () =>
        (await broker.listDead({ limit: 10, offset: 0 })).some(
          (d) => d.id === boom.id && d.failedAt > before.failedAt,
        ),
      20_000,
      'the replayed task ran (and failed again)',
    )

    // Retry now, from the failed task's page: its dead-letter entry runs again (and fails again).
    const replayed = (await broker.listDead({ limit: 10, offset: 0 })).find((d) => d.id === boom.id)!
    await page.goto(`${base}/tasks/${boom.id}`)
    await page.getByText('FAILURE').first().waitFor()
    page.once('dialog', (d) => void d.accept())
    await page.getByRole('button', { name: 'Retry now…' }).click()
    await page.locator('#toast', { hasText: 'retry now: done' }).waitFor()
    await until(
      async () =>
        (await broker.listDead({ limit: 10, offset: 0 })).some(
          (d) => d.id === boom.id && d.failedAt > replayed.failedAt,
        ),
      20_000,
      'the task retried now ran (and failed again)',
    )

    // A filter on the tasks page: failures only, by state; then by task name.
    await page.goto(`${base}/tasks`)
    await page.locator(`a[href="tasks/${echo.id}"]`).waitFor()
    await page.getByLabel('state', { exact: true }).selectOption('FAILURE')
    await page.waitForURL(/\/tasks\?state=FAILURE$/)
    await page.locator(`a[href="tasks/${boom.id}"]`).waitFor()
    // The redraw after the filter drops the succeeded task that was listed before it.
    await page.locator(`a[href="tasks/${echo.id}"]`).waitFor({ state: 'detached' })
    await shoot(page, 'tasks-filtered')
    await page.getByLabel('task', { exact: true }).selectOption('echo')
    await page.waitForURL(/\/tasks\?state=FAILURE&task=echo$/)
    await page.locator('.pager [data-range]', { hasText: '0 of 0' }).waitFor()

    // The Overview charts the last hour per queue, from the event log.
    await page.getByRole('navigation').getByRole('link', { name: 'Overview' }).click()
    const chart = page.locator('figure.chart-card[data-queue="default"] svg.chart')
    await chart.waitFor()
    assert.ok((await chart.locator('rect.bar-done').count()) > 0, 'bars for finished tasks')
    assert.ok((await chart.locator('rect.bar-failed').count()) > 0, 'bars for failures')
    assert.match(
      (await chart.getAttribute('aria-label')) ?? '',
      /^default: \d+ finished, \d+ failed in the last hour/,
    )

    // A run-time rate limit from the Workers page, read back from the coordination records.
    await page.getByRole('navigation').getByRole('link', { name: 'Workers' }).click()
    await page.getByLabel('task or queue name').fill('echo')
    await page.getByLabel('rate', { exact: true }).fill('100/s')
    await page.getByRole('button', { name: 'Set rate limit' }).click()
    await page.locator('#toast', { hasText: 'rate limit echo: done' }).waitFor()
    await page.locator('td', { hasText: /^task:echo$/ }).waitFor()
    await page.locator('tr', { hasText: 'task:echo' }).getByRole('button', { name: 'Reset' }).click()
    await page.getByText('no run-time rate limit').waitFor()

    // No markup from task data made it into the DOM as elements, and nothing ran.
    for (const path of ['/tasks', `/tasks/${boom.id}`, '/dead']) {
      await page.goto(`${base}${path}`)
      await page.locator('main h1').waitFor()
      await page.getByText(XSS).first().waitFor()
      assert.equal(await page.locator('main script, main img').count(), 0, path)
      assert.equal(
        await page.evaluate(() => (globalThis as unknown as { __pwned?: number }).__pwned),
        undefined,
        `${path}: no script from task data ran`,
      )
    }

    // Schedules: beat entries with their next fire; pause and resume one from the page.
    const beat = createBeat(app)
    await beat.add({
      name: 'nightly-report',
      task: 'echo',
      args: ['report'],
      schedule: { kind: 'cron', pattern: '0 30 2 * * *', timezone: 'Europe/Berlin' },
    })
    await beat.add({
      name: 'heartbeat',
      task: 'echo',
      args: ['ping'],
      schedule: { kind: 'every', everyMs: 3_600_000 },
    })
    await page.getByRole('navigation').getByRole('link', { name: 'Schedules' }).click()
    const entryRow = page.locator('tr', { has: page.locator('td', { hasText: /^nightly-report$/ }) })
    await entryRow.getByText(/^in \d+[smhd]$/).waitFor()
    await entryRow.getByRole('button', { name: 'Pause' }).click()
    await entryRow.getByText('paused').waitFor()
    const paused = (await beat.list()).find((e) => e.name === 'nightly-report')!
    assert.equal(paused.paused, true)
    await entryRow.getByRole('button', { name: 'Resume' }).click()
    await entryRow.getByText('active').waitFor()
    assert.equal((await beat.list()).find((e) => e.name === 'nightly-report')!.paused, false)

    // Every page, light and dark, laptop and phone.
    const pagesToShoot: [string, string][] = [
      ['overview', '/'],
      ['queues', '/queues'],
      ['queue-dead', '/queues?queue=default&state=dead'],
      ['workers', '/workers'],
      ['tasks', '/tasks'],
      ['task', `/tasks/${echo.id}`],
      ['task-failed', `/tasks/${boom.id}`],
      ['task-tree', `/tasks/${flow.id}.1`],
      ['dead', '/dead'],
      ['schedules', '/schedules'],
    ]
    for (const [size, viewport] of Object.entries(SIZES))
      for (const scheme of ['light', 'dark'] as const) {
        await page.setViewportSize(viewport)
        await page.emulateMedia({ colorScheme: scheme })
        for (const [name, path] of pagesToShoot) {
          await page.goto(`${base}${path}`)
          await page.locator('main h1').waitFor()
          await shoot(page, `${name}-${scheme}-${size}`)
        }
      }
    const login = await browser.newPage({ viewport: SIZES.laptop })
    await login.goto(`${base}/login`)
    await shoot(login, 'login-light-laptop')

    assert.deepEqual(pageErrors, [], 'no script error in the page')
    worker.kill('SIGTERM')
    dash.kill('SIGTERM')

    async function shoot(p: Page, name: string): Promise<void> {
      // Let the live redraw settle so the picture is of a finished page.
      await p.waitForTimeout(300)
      await p.screenshot({ path: join(shots, `${name}.png`), fullPage: true })
      if (keep) await p.screenshot({ path: join(keep, `${name}.png`), fullPage: true })
    }
  })
  it('works below a base path (--base-path /jobs): sign-in, navigation, a queue list, sign-out', async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`no browser at ${CHROMIUM}: apt-get install chromium`)
    const url = `sqlite://${join(tempDir(), 'queue.db')}`
    const app = createApp({ broker: url })
    apps.push(app)
    await app.sendTask('echo', ['below a base path'], { queue: 'based' })
    const env = { CELERIAC_BROKER: url, CELERIAC_DASHBOARD_PASSWORD: PASSWORD }
    const dash = run(['-A', FIXTURE, 'dashboard', '--port', '0', '--base-path', '/jobs'], env)
    procs.push(dash)
    await dash.waitFor(/celeriac dashboard on http:\/\/\S+/)
    const base = /celeriac dashboard on (http:\/\/\S+)/.exec(dash.output())![1]!.replace(/\/$/, '')
    assert.match(base, /\/jobs$/)
    browser ??= await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] })
    const page = await browser.newPage({ viewport: SIZES.laptop })
    const pageErrors: string[] = []
    page.on('pageerror', (e) => pageErrors.push(e.message))
    await page.goto(`${base}/queues`)
    assert.equal(new URL(page.url()).pathname, '/jobs/login')
    await page.fill('input[name=password]', PASSWORD)
    await page.click('button[type=submit]')
    await page.waitForURL(`${base}/`)
    await page.locator('#live.on').waitFor()
    await page.getByRole('navigation').getByRole('link', { name: 'Queues' }).click()
    await page.waitForURL(`${base}/queues`)
    await page.getByRole('link', { name: 'based' }).click()
    await page.waitForURL(`${base}/queues?queue=based&state=waiting`)
    await page.locator('.queue-jobs [data-range]', { hasText: '1–1 of 1' }).waitFor()
    await page.locator('.queue-jobs a[href^="tasks/"]').click()
    assert.match(new URL(page.url()).pathname, /^\/jobs\/tasks\/[^/]+$/)
    await page.getByText('No worker has reported this task yet').waitFor()
    await page.reload()
    await page.getByText('No worker has reported this task yet').waitFor()
    await page.getByRole('button', { name: 'Sign out' }).click()
    await page.waitForURL(`${base}/login`)
    assert.deepEqual(pageErrors, [])
    dash.kill('SIGTERM')
  })
})
