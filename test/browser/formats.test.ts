/**
 * Model files in a real browser: headless Chromium (WebGPU) loads the Keras (.keras, .h5) and TF.js
 * fixtures with the browser bundle (dist/browser/wgsl-nn.js), by URL and as File objects, and
 * predicts within 1e-5 of Keras / TF.js.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundlePage, type RunningServer, startServer } from '../../examples/web/server.js';
import { expectClose } from '../helpers.js';
import { chromiumPath, hasChromium, type LaunchedBrowser, launchChromium } from './chromium.js';
import type { FormatCase, FormatResult } from './formats.page.js';

const here = dirname(fileURLToPath(import.meta.url));
const FIX = join(here, '..', 'fixtures', 'formats');
const skip = hasChromium ? '' : `no Chromium at ${chromiumPath}: run bash scripts/setup-chromium.sh`;
if (skip) console.warn(`browser format tests skipped: ${skip}`);

interface Ref {
  input: number[];
  inputShape: number[];
  output: number[];
}
const keras = JSON.parse(readFileSync(join(FIX, 'keras_reference.json'), 'utf8')) as Record<string, Ref>;
const tfjs = JSON.parse(readFileSync(join(FIX, 'tfjs_reference.json'), 'utf8')) as Record<string, Ref>;

function kerasCase(file: string, ref: Ref, asFiles: boolean): FormatCase {
  return { label: `${file}${asFiles ? ' (File)' : ''}`, urls: [`/model/${file}`], asFiles, ...ref };
}

function tfjsCase(name: string, asFiles: boolean): FormatCase {
  const urls = asFiles
    ? ['model.json', ...readdirSync(join(FIX, name)).filter((f) => f.endsWith('.bin'))].map(
        (f) => `/model/${name}/${f}`,
      )
    : [`/model/${name}/model.json`];
  return { label: `${name}${asFiles ? ' (Files)' : ''}`, urls, asFiles, ...tfjs[name] };
}

describe.skipIf(skip !== '')('model files in headless Chromium', () => {
  let server: RunningServer;
  let browser: LaunchedBrowser;
  let page: Page;

  beforeAll(async () => {
    const js = await bundlePage(join(here, 'formats.page.ts'));
    server = await startServer({
      port: 0,
      modelDir: FIX,
      log: () => {},
      extra: {
        '/test/formats.html': {
          type: 'text/html; charset=utf-8',
          body: '<!doctype html><link rel="icon" href="data:,"><script type="module" src="/test/formats.js"></script><body></body>',
        },
        '/test/formats.js': { type: 'text/javascript; charset=utf-8', body: js },
      },
    });
    browser = await launchChromium();
    page = await browser.context.newPage();
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('loads .keras, .h5 and TF.js models by URL and as Files, predicting as Keras / TF.js', async () => {
    const cases = [
      kerasCase('keras_cnn.keras', keras.keras_cnn, false),
      kerasCase('keras_cnn.h5', keras.keras_cnn, true),
      kerasCase('keras_seq.h5', keras.keras_seq, false),
      kerasCase('keras_seq.keras', keras.keras_seq, true),
      tfjsCase('tfjs_cnn', false),
      tfjsCase('tfjs_cnn_uint8', true),
    ];
    await page.goto(`${server.url}test/formats.html`);
    await page.waitForSelector('body[data-ready="1"]', { state: 'attached' });
    const results = await page.evaluate(
      (cs) =>
        (
          window as unknown as { runFormatChecks: (c: FormatCase[]) => Promise<FormatResult[]> }
        ).runFormatChecks(cs),
      cases,
    );
    console.log(
      results.map((r) => `${r.label}: ${r.error ? 'error' : 'ok'} in ${r.ms.toFixed(0)} ms`).join('\n'),
    );
    expect(results.filter((r) => r.error).map((r) => `${r.label}: ${r.error}`)).toEqual([]);
    results.forEach((r, i) => {
      const want = cases[i].label.startsWith('tfjs') ? tfjs[cases[i].label.split(' ')[0]] : undefined;
      const ref = want ?? (cases[i].label.includes('cnn') ? keras.keras_cnn : keras.keras_seq);
      expectClose(
        Float32Array.from(r.output!),
        Float32Array.from(ref.output),
        { atol: 1e-5, rtol: 0 },
        r.label,
      );
    });
  });
});
