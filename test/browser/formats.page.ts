/**
 * Page entry of the browser format checks: loads the Keras and TF.js fixtures through the browser
 * bundle, by URL and as File objects (as from <input type="file">), and returns the predictions.
 * Bundled by test/browser/formats.test.ts; `window.runFormatChecks(cases)` is called by the test.
 */
import { getDevice, loadModel, type Model, type ModelSource, tensor } from '../../src/index.js';

export interface FormatCase {
  label: string;
  /** URLs under /model/ (the fixtures folder); several for a TF.js model.json given as Files. */
  urls: string[];
  asFiles: boolean;
  input: number[];
  inputShape: number[];
}

export interface FormatResult {
  label: string;
  output?: number[];
  error?: string;
  ms: number;
}

async function source(c: FormatCase): Promise<ModelSource> {
  if (!c.asFiles) return c.urls[0];
  const files = await Promise.all(
    c.urls.map(async (u) => new File([await (await fetch(u)).arrayBuffer()], u.split('/').pop() ?? u)),
  );
  return files.length === 1 ? files[0] : files;
}

async function run(c: FormatCase): Promise<FormatResult> {
  const t0 = performance.now();
  let m: Model | undefined;
  try {
    m = await loadModel(await source(c));
    const x = tensor(Float32Array.from(c.input), c.inputShape);
    const y = await m.predict(x);
    const output = Array.from(await y.data());
    x.dispose();
    y.dispose();
    return { label: c.label, output, ms: performance.now() - t0 };
  } catch (e) {
    return { label: c.label, error: String((e as Error).stack ?? e), ms: performance.now() - t0 };
  } finally {
    m?.dispose();
  }
}

(window as unknown as { runFormatChecks: unknown }).runFormatChecks = async (cases: FormatCase[]) => {
  await getDevice();
  const out: FormatResult[] = [];
  for (const c of cases) out.push(await run(c));
  return out;
};
document.body.dataset.ready = '1';
