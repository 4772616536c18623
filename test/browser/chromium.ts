/**
 * Headless Chromium with WebGPU for the browser tests (playwright-core drives Debian's chromium,
 * installed by scripts/setup-chromium.sh; Playwright's own browser downloads are not used).
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Browser, type BrowserContext, chromium } from 'playwright-core';

export const chromiumPath = process.env.WGSL_NN_CHROMIUM ?? '/usr/bin/chromium';
export const hasChromium = existsSync(chromiumPath);

/**
 * WebGPU in headless Chromium on a machine without a GPU. Measured with Debian's Chromium 156:
 * --enable-unsafe-webgpu alone exposes an adapter (none without it); with or without the Vulkan /
 * ANGLE flags and with or without --disable-gpu, the adapter is Chromium's bundled SwiftShader
 * (CPU Vulkan, 256 invocations per workgroup, 1 GiB storage bindings). Mesa's lavapipe is listed on
 * chrome://gpu but never chosen: Chromium only takes adapters that can import external images,
 * or SwiftShader. The other flags are kept so that a machine with a real GPU uses it.
 */
export const WEBGPU_FLAGS = [
  '--enable-unsafe-webgpu',
  '--enable-features=Vulkan',
  '--use-angle=vulkan',
  '--ignore-gpu-blocklist',
  // Real adapter limits instead of Chromium's privacy tiers.
  '--disable-dawn-features=tiered_adapter_limits',
];

/** Keep Chromium off the network: without these it keeps calling home and floods a closed network. */
export const QUIET_FLAGS = [
  '--no-sandbox',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-default-apps',
  '--disable-extensions',
];

export interface LaunchedBrowser {
  context: BrowserContext;
  browser: Browser | null;
  close(): Promise<void>;
}

/** Launches headless Chromium with a fresh profile folder, removed again by close(). */
export async function launchChromium(opts: { webgpu?: boolean } = {}): Promise<LaunchedBrowser> {
  const profile = mkdtempSync(join(tmpdir(), 'wgsl-nn-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: chromiumPath,
    headless: true,
    args: [...QUIET_FLAGS, ...(opts.webgpu === false ? [] : WEBGPU_FLAGS)],
    viewport: { width: 1280, height: 900 },
  });
  return {
    context,
    browser: context.browser(),
    close: async () => {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
