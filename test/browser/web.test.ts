/**
 * The library in a real browser: headless Chromium (WebGPU) loads dist/browser/wgsl-nn.js through
 * the web demo's server. Kernels are checked against the CPU oracles in the page; the demo page
 * classifies photos with a model trained in Node (same label, probabilities within 1e-3 of
 * Node's), trains a new head in the page, and is screenshotted to test/.tmp/artifacts/.
 */
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundlePage, type RunningServer, startServer } from '../../examples/web/server.js';
import { FIXTURE_DIR, manifest } from '../fixtures/images/load.js';
import { flowersDir, hasFlowers, hasWeights, weightsDir } from '../shared-data.js';
import { chromiumPath, hasChromium, type LaunchedBrowser, launchChromium } from './chromium.js';
import { type DecodeResult, decodeAll, digest } from './decode.page.js';
import { type Fixture, makeFlowersFixture } from './fixture.js';
import type { KernelReport } from './kernels.page.js';

const here = dirname(fileURLToPath(import.meta.url));
const tmp = join(here, '..', '.tmp', `browser-${process.pid}`);
export const artifactsDir = join(here, '..', '.tmp', 'artifacts');

const skip = !hasChromium
  ? `no Chromium at ${chromiumPath}: run bash scripts/setup-chromium.sh (or set WGSL_NN_CHROMIUM)`
  : !hasWeights
    ? `no MobileNetV2 weights at ${weightsDir} (set WGSL_NN_WEIGHTS_DIR)`
    : !hasFlowers
      ? `no flowers photos at ${flowersDir} (set WGSL_NN_DATA_DIR)`
      : '';
if (skip) console.warn(`browser tests skipped: ${skip}`);

const DAISY = join(flowersDir, 'daisy', '14866200659_6462c723cb_m.jpg');
const TULIP = join(flowersDir, 'tulips', '112428665_d8f3632f36_n.jpg');

/** Waits until the demo shows the prediction for `photo` by the given head (or an error). */
async function predicted(page: Page, photo: string, head: 'loaded' | 'trained'): Promise<void> {
  const file = photo.split('/').pop()!;
  await page.waitForSelector(
    `body[data-state="error"], body[data-state="predicted"] #results[data-file="${file}"][data-head="${head}"]`,
    { timeout: 60_000 },
  );
  expect(await page.getAttribute('body', 'data-state'), (await page.textContent('#result-label')) ?? '').toBe(
    'predicted',
  );
}

describe.skipIf(skip !== '')('in headless Chromium with WebGPU', () => {
  let fixture: Fixture;
  let server: RunningServer;
  let browser: LaunchedBrowser;
  let page: Page;
  const log: string[] = [];
  const t = (label: string, t0: number) =>
    log.push(`${label}: ${((performance.now() - t0) / 1000).toFixed(2)} s`);

  beforeAll(async () => {
    mkdirSync(tmp, { recursive: true });
    mkdirSync(artifactsDir, { recursive: true });
    let t0 = performance.now();
    fixture = await makeFlowersFixture({
      dir: tmp,
      flowersDir,
      backbone: join(weightsDir, 'mobilenet_v2_1.0_224_no_top.safetensors'),
      perClass: 6,
      epochs: 6,
      learningRate: 3e-4,
    });
    t('fixture model in Node', t0);
    t0 = performance.now();
    const kernelsJs = await bundlePage(join(here, 'kernels.page.ts'));
    server = await startServer({
      port: 0,
      modelDir: tmp,
      samplesDir: flowersDir,
      samplesPerClass: 2,
      log: (s) => log.push(s),
      extra: {
        '/test/kernels.html': {
          type: 'text/html; charset=utf-8',
          body: '<!doctype html><link rel="icon" href="data:,"><script type="module" src="/test/kernels.js"></script><body></body>',
        },
        '/test/kernels.js': { type: 'text/javascript; charset=utf-8', body: kernelsJs },
      },
    });
    t('bundles and server', t0);
    t0 = performance.now();
    browser = await launchChromium();
    page = await browser.context.newPage();
    page.on('pageerror', (e) => log.push(`page error: ${e.message}`));
    page.on('console', (m) => {
      if (m.type() === 'error') log.push(`console error: ${m.text()}`);
    });
    t('browser launch', t0);
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    fixture?.dispose();
    rmSync(tmp, { recursive: true, force: true });
    console.log(`browser tests:\n  ${log.join('\n  ')}`);
  });

  it('runs kernels in the page within the CPU oracles tolerances', async () => {
    const t0 = performance.now();
    await page.goto(`${server.url}test/kernels.html`);
    await page.waitForSelector('body[data-ready="1"]', { state: 'attached' });
    const report = await page.evaluate(
      (seed) =>
        (window as unknown as { runKernelChecks: (s: number) => Promise<KernelReport> }).runKernelChecks(
          seed,
        ),
      20251,
    );
    t(`kernel checks (${report.cases.length} cases)`, t0);
    log.push(`adapter: ${report.adapter}; limits ${JSON.stringify(report.limits)}`);
    // The device asks for the adapter's limits: at least WebGPU's defaults must come through.
    expect(report.limits.maxStorageBufferBindingSize).toBeGreaterThanOrEqual(128 * 2 ** 20);
    expect(report.limits.maxComputeInvocationsPerWorkgroup).toBeGreaterThanOrEqual(256);
    const ops = new Set(report.cases.map((c) => c.op));
    const worstByOp = [...ops].map(
      (op) =>
        `${op} ${Math.max(...report.cases.filter((c) => c.op === op).map((c) => c.maxAbsErr)).toExponential(1)}`,
    );
    log.push(`kernels, largest |page - oracle|: ${worstByOp.join(', ')}`);
    expect([...ops].sort()).toEqual([
      'add',
      'conv2d',
      'depthwiseConv2d',
      'matmul',
      'reduce',
      'softmax',
      'transpose',
    ]);
    const bad = report.cases.filter((c) => c.error !== undefined || !(c.worstExcess <= 0));
    expect(
      bad.map(
        (c) =>
          `${c.op} ${c.label}: ${c.error ?? `max error ${c.maxAbsErr} exceeds the tolerance by ${c.worstExcess}`}`,
      ),
    ).toEqual([]);
  });

  it('decodes and resizes JPEGs to the same values as Node (every fixture mode, two photos)', async () => {
    const t0 = performance.now();
    await page.goto(`${server.url}test/kernels.html`);
    await page.waitForSelector('body[data-ready="1"]', { state: 'attached' });
    const files = [
      ...manifest.decode.map((c) => ({ name: c.name, path: join(FIXTURE_DIR, `${c.name}.jpg`) })),
      { name: 'daisy', path: DAISY },
      { name: 'tulip', path: TULIP },
    ].map((f) => ({ name: f.name, bytes: Array.from(readFileSync(f.path)) }));
    const inPage = await page.evaluate(
      (fs) =>
        (window as unknown as { runDecodeChecks: (f: typeof fs) => DecodeResult[] }).runDecodeChecks(fs),
      files,
    );
    t(`decode checks in the page (${files.length} files)`, t0);
    let worstLanczos = 0;
    for (const [i, f] of files.entries()) {
      const node = decodeAll(f.name, new Uint8Array(f.bytes));
      const got = inPage[i];
      expect(got.error, f.name).toBeUndefined();
      expect([got.width, got.height], f.name).toEqual([node.width, node.height]);
      // Integer pipelines and float32-rounded resizes: the same bytes in both engines (digests).
      for (const k of ['fast', 'accurate', 'oriented'] as const)
        expect(got[k], `${f.name} ${k}`).toEqual(node[k]);
      for (const k of ['bilinear-192', 'bicubic-13x7', 'area-13x7']) {
        expect(got.resized[k], `${f.name} ${k}`).toEqual(node.resized[k]);
      }
      // And for the fixtures, the same bytes as TensorFlow.
      const ref = manifest.decode.find((c) => c.name === f.name);
      if (ref)
        expect(got.fast, `${f.name} vs TF`).toBe(
          digest(new Uint8Array(readFileSync(join(FIXTURE_DIR, ref.fast)))),
        );
      // Lanczos calls Math.sin, which may differ in the last bit between V8 versions.
      const a = got.lanczos;
      const b = node.lanczos;
      expect(a.length).toBe(b.length);
      for (let j = 0; j < a.length; j++) worstLanczos = Math.max(worstLanczos, Math.abs(a[j] - b[j]));
    }
    expect(worstLanczos).toBeLessThan(1e-3);
    log.push(`decode: page = Node for ${files.length} JPEGs; lanczos3 largest |page - Node| ${worstLanczos}`);
  });

  it('classifies photos in the demo page like Node does, and shows the prediction', async () => {
    let t0 = performance.now();
    await page.goto(server.url);
    await page.waitForSelector('body[data-state="ready"], body[data-state="error"]', { timeout: 60_000 });
    const why = `${await page.textContent('#gpu-error')} ${await page.textContent('#model-status')}`;
    expect(await page.getAttribute('body', 'data-state'), why).toBe('ready');
    t('demo page ready (device + model load)', t0);
    log.push(`model load in the page: ${await page.getAttribute('#model-status', 'data-ms')} ms`);
    expect(await page.textContent('#adapter')).toMatch(/^WebGPU: /);

    const node: Float32Array[] = [];
    for (const photo of [DAISY, TULIP]) {
      const tn = performance.now();
      node.push(...(await fixture.predictNode([photo])));
      log.push(`Node inference ${photo.split('/').pop()}: ${(performance.now() - tn).toFixed(0)} ms`);
    }
    let worst = 0;
    for (const [i, photo] of [DAISY, TULIP].entries()) {
      t0 = performance.now();
      await page.setInputFiles('#file', photo);
      await predicted(page, photo, 'loaded');
      const inPage = await page.$$eval('#results li', (lis) =>
        lis.map((li) => ({ name: li.dataset.class ?? '', p: Number(li.dataset.p) })),
      );
      const pageMs = await page.getAttribute('#timing', 'data-ms');
      t(`classify ${photo.split('/').pop()} (page inference ${pageMs} ms)`, t0);
      const nodeProbs = fixture.classNames.map((name, k) => ({ name, p: node[i][k] }));
      const nodeTop = [...nodeProbs].sort((a, b) => b.p - a.p)[0].name;
      expect(inPage[0].name).toBe(nodeTop);
      expect(await page.textContent('#result-label')).toContain(nodeTop);
      expect(inPage.map((e) => e.name).sort()).toEqual([...fixture.classNames].sort());
      for (const { name, p } of inPage) {
        const diff = Math.abs(p - nodeProbs.find((e) => e.name === name)!.p);
        worst = Math.max(worst, diff);
        expect(
          diff,
          `${name}: page ${p}, Node ${nodeProbs.find((e) => e.name === name)!.p}`,
        ).toBeLessThanOrEqual(1e-3);
      }
      log.push(
        `${photo.split('/').pop()}: Node ${JSON.stringify(nodeProbs.map((e) => [e.name, e.p]))}`,
        `${photo.split('/').pop()}: page ${JSON.stringify(inPage.map((e) => [e.name, e.p]))}`,
      );
      if (i === 0) {
        await page.screenshot({ path: join(artifactsDir, 'web-demo.png'), fullPage: true });
      }
    }
    log.push(`largest Node-vs-browser probability difference: ${worst.toExponential(2)}`);
  });

  it('trains a new head in the page on the sample photos', async () => {
    const t0 = performance.now();
    await page.click('#use-samples');
    await page.waitForFunction(() => !document.querySelector<HTMLButtonElement>('#train-button')?.disabled);
    expect(await page.$$eval('.class-row .thumbs img', (imgs) => imgs.length)).toBe(10);
    await page.fill('#epochs', '5');
    await page.click('#train-button');
    await page.waitForSelector('body[data-train="done"], body[data-train="error"]', { timeout: 90_000 });
    const status = await page.textContent('#train-status');
    expect(await page.getAttribute('body', 'data-train'), status ?? '').toBe('done');
    t('train a head in the page (10 photos, 5 epochs)', t0);
    log.push(`page: ${status}`);
    const first = Number(await page.getAttribute('#train-status', 'data-first-loss'));
    const last = Number(await page.getAttribute('#train-status', 'data-last-loss'));
    expect(last).toBeLessThan(first);

    // The new head knows its own training photos: the labels are wired up right.
    await page.selectOption('#head-select', 'trained');
    const daisy = join(flowersDir, 'daisy', '100080576_f52e8ee070_n.jpg');
    await page.setInputFiles('#file', daisy);
    await predicted(page, daisy, 'trained');
    expect(await page.getAttribute('#results li', 'data-class')).toBe('daisy');
    await page.screenshot({ path: join(artifactsDir, 'web-demo-trained.png'), fullPage: true });
  });

  it('says so clearly when the browser gives no WebGPU adapter', async () => {
    const plain = await launchChromium({ webgpu: false });
    try {
      const p = await plain.context.newPage();
      await p.goto(server.url);
      await p.waitForSelector('body[data-state="error"]', { timeout: 30_000 });
      expect(await p.textContent('#adapter')).toBe('WebGPU unavailable');
      expect(await p.isVisible('#gpu-error')).toBe(true);
      expect(await p.textContent('#gpu-error')).toMatch(
        /WebGPU.*(no device could be created|navigator\.gpu is missing)/s,
      );
      expect(await p.textContent('#gpu-error')).toContain('--enable-unsafe-webgpu');
    } finally {
      await plain.close();
    }
  });
});
