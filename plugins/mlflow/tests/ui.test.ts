import * as fs from 'node:fs';
import * as path from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';
import { MlflowTrackingBackend } from '../src/backend';
import { mainClient, recordingLogger, requireEnv, tmpDir, uniqueName } from './support/env';

const CHROMIUM = process.env.ICCL_CHROMIUM ?? '/usr/bin/chromium';
// A temp folder, so a test run leaves the tracked tree as it was; ICCL_UI_SCREENSHOT=docs/mlflow-compare.png
// writes it where the README shows it, when someone means to refresh that picture.
const SCREENSHOT = process.env.ICCL_UI_SCREENSHOT ? path.resolve(process.env.ICCL_UI_SCREENSHOT) : path.join(tmpDir('ui-shot'), 'mlflow-compare.png');

/**
 * What a user sees: a study logged through our tracker, opened in MLflow's own UI (served by the
 * test server) in headless Chromium.
 */
describe('MLflow UI shows a study as nested runs and compares its trials', () => {
  let ctx: BrowserContext | undefined;
  afterAll(async () => {
    await ctx?.close();
  });

  test('trials nested under the study; compare view lists params and plots a metric', async () => {
    if (!fs.existsSync(CHROMIUM)) {
      throw new Error(`chromium not found at ${CHROMIUM}: install it (apt-get update && apt-get install -y chromium) or set ICCL_CHROMIUM to its path`);
    }
    const uri = requireEnv('ICCL_TEST_MLFLOW_URI');
    const client = mainClient();
    const backend = new MlflowTrackingBackend({ client, experimentName: uniqueName('ui-study'), spoolDir: tmpDir('ui-spool'), logger: recordingLogger(), handleSigint: false });
    const study = await backend.startRun({ name: 'study-cifar10-lt' });
    const trialIds: string[] = [];
    const lrs = [0.1, 0.03, 0.01];
    for (let n = 0; n < 3; n++) {
      const t = await backend.startRun({ name: `trial-000${n}`, parentRunId: study.runId, tags: { 'iccl.trial.number': String(n) } });
      // The names the trainers log, so the screenshot shows the compare view as users see it
      // (the values here are made up by the test; only the UI is under test).
      t.logParams({ method: ['iccl', 'ce', 'crt'][n]!, lr: lrs[n]!, tau: [0.07, 0.1, 0.2][n]! });
      for (let s = 0; s < 10; s++) t.logMetrics({ 'eval/few': 0.3 + (0.05 * s * (3 - n)) / 3, 'eval/top1': 0.5 + 0.03 * s }, s);
      await t.end('FINISHED');
      trialIds.push(t.runId);
    }
    await study.end('FINISHED');
    await backend.close();
    const exp = await backend.experimentId();

    ctx = await chromium.launchPersistentContext(tmpDir('chromium-profile'), {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      viewport: { width: 1500, height: 1000 },
    });
    const page = await ctx.newPage();
    page.setDefaultTimeout(60_000);

    // Runs table: only the study row at first; its children show when it is expanded.
    await page.goto(`${uri}/#/experiments/${exp}/runs`, { waitUntil: 'domcontentloaded' });
    const studyRow = page.getByRole('row').filter({ hasText: 'study-cifar10-lt' });
    await studyRow.waitFor();
    await page.getByText('4 matching runs').waitFor();
    expect(await page.getByRole('row').filter({ hasText: /trial-000\d/ }).count()).toBe(0);
    await studyRow.locator('button[data-component-id*="runnamecellrenderer"]').click();
    for (let n = 0; n < 3; n++) await page.getByRole('row').filter({ hasText: `trial-000${n}` }).waitFor();
    expect(await page.getByRole('row').filter({ hasText: /trial-000\d/ }).count()).toBe(3);

    // Compare view of the three trials.
    const q = `runs=${encodeURIComponent(JSON.stringify(trialIds))}&experiments=${encodeURIComponent(JSON.stringify([exp]))}`;
    await page.goto(`${uri}/#/compare-runs?${q}`, { waitUntil: 'commit' });
    await page.getByText('Comparing 3 Runs from 1 Experiment').waitFor();
    const lrRow = page.getByRole('row').filter({ has: page.getByText('lr', { exact: true }) });
    await lrRow.first().waitFor();
    const lrText = await lrRow.first().innerText();
    for (const lr of lrs) expect(lrText).toContain(String(lr));
    expect(await page.getByRole('row').filter({ has: page.getByText('tau', { exact: true }) }).count()).toBeGreaterThan(0);
    expect(await page.getByRole('row').filter({ has: page.getByText('method', { exact: true }) }).count()).toBeGreaterThan(0);
    // The plot (plotly) draws the metric's axis.
    const plot = page.locator('.js-plotly-plot').first();
    await plot.waitFor();
    await expect(plot.innerText()).resolves.toMatch(/eval\/(few|top1)/);
    expect(await plot.locator('svg.main-svg').count()).toBeGreaterThan(0);

    // The assistant side panel hides part of the page: close it if it is there.
    await page.locator('button[aria-label="Close"]').first().click({ timeout: 2000 }).catch(() => undefined);
    fs.mkdirSync(path.dirname(SCREENSHOT), { recursive: true });
    await page.screenshot({ path: SCREENSHOT });
    expect(fs.statSync(SCREENSHOT).size).toBeGreaterThan(10_000);
  });
});
