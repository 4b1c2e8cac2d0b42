import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { python, REPO, tmpDir } from './helpers';

const CHROMIUM = process.env.ICCL_CHROMIUM ?? '/usr/bin/chromium';

/**
 * The report of a real study: the demo's smoke configuration (ICCL on the synthetic long-tailed set,
 * 2 trials) run by the CLI, then its index.html opened in headless Chromium.
 */
describe('the report of a real small study, in a browser', () => {
  let browser: Browser | undefined;
  afterAll(async () => {
    await browser?.close();
  });

  test('draws the per-class chart, the head/tail scatter and the trials table', async () => {
    if (!fs.existsSync(CHROMIUM))
      throw new Error(
        `chromium not found at ${CHROMIUM}: install it (tools/setup.sh --test) or set ICCL_CHROMIUM to its path`,
      );
    const dir = tmpDir('report-ui');
    const journal = path.join(dir, 'studies.journal');
    const args = [
      '--import',
      'tsx',
      path.join(REPO, 'search/src/driver/cli.ts'),
      'run',
      '--space',
      'demo',
      '--configuration',
      'smoke',
      '--study',
      'ui',
      '--storage',
      `journal:${journal}`,
      '--tracking',
      'none',
    ];
    const r = spawnSync(
      process.execPath,
      [...args, '--runs-dir', path.join(dir, 'runs'), '--reports-dir', path.join(dir, 'reports')],
      { cwd: REPO, encoding: 'utf8', timeout: 240_000 },
    );
    expect({ status: r.status, stderr: r.status === 0 ? '' : r.stderr }).toEqual({ status: 0, stderr: '' });

    // What the driver stored, as Optuna reads it: the objective's name, and each complete trial's per-class table.
    const read = JSON.parse(python('read_per_class.py', [journal, 'ui'])) as {
      metric_names: string[] | null;
      trials: { state: string; per_class: { trainCount: number[]; accuracy: (number | null)[] } | null }[];
    };
    expect(read.metric_names).toEqual(['val/top1']); // Optuna's set_metric_names: optuna-dashboard's axis labels
    const trials = read.trials;
    const complete = trials.filter((t) => t.state === 'COMPLETE');
    expect(complete.length).toBeGreaterThan(0);
    for (const t of complete) {
      expect(t.per_class!.trainCount).toHaveLength(4); // the smoke protocol's 4 classes
      expect(t.per_class!.accuracy.every((a) => a === null || (a >= 0 && a <= 1))).toBe(true);
    }

    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
    });
    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    await page.goto(`file://${path.join(dir, 'reports', 'ui', 'index.html')}`);
    const headings = await page.locator('h2').allInnerTexts();
    for (const h of [
      'Best trial',
      'Per-class accuracy',
      'Head and tail: top-1 against Few',
      'Trials',
      'Parameter importances',
    ])
      expect(headings).toContain(h);
    // per-class chart: one point per class with test images, drawn on a log axis with the three bands
    const perClass = page.locator('h2:text-is("Per-class accuracy") + p + div.plot svg');
    await expect(perClass.locator('path[aria-roledescription="point"]').count()).resolves.toBe(4);
    const perClassText = await perClass.textContent();
    expect(perClassText).toContain('training images of the class (log scale)');
    for (const g of ['many', 'few']) expect(perClassText).toContain(g);
    const box = await perClass.boundingBox();
    expect(box!.width).toBeGreaterThan(300);
    // head/tail scatter: one point per trial that reported top-1 and Few
    const headTail = page.locator('h2:text-is("Head and tail: top-1 against Few") + p + div.plot svg');
    await expect(headTail.locator('path[aria-roledescription="point"]').count()).resolves.toBe(
      complete.length,
    );
    // trials table: a row per trial, Many/Medium/Few columns
    await expect(page.locator('table.trials tr').count()).resolves.toBe(trials.length + 1);
    expect(await page.locator('table.trials tr').first().innerText()).toMatch(/many\s+medium\s+few/);
    // too few trials for importance: a sentence, no chart
    expect(await page.locator('h2:text-is("Parameter importances") + p.note').innerText()).toContain(
      'needs at least 10 complete trials',
    );
    const png = path.join(dir, 'report.png');
    await page.screenshot({ path: png, fullPage: true });
    expect(fs.statSync(png).size).toBeGreaterThan(20_000);
  }, 300_000);
});
