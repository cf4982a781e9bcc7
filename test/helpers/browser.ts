import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll } from 'vitest';

/**
 * Debian's chromium (installed by .ci/run), launched once for the calling test
 * file and closed after it; playwright never downloads a browser here.
 */
export function useChromium(): () => Browser {
  let browser: Browser | undefined;
  beforeAll(async () => {
    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
  }, 30_000);
  afterAll(async () => {
    await browser?.close();
  });
  return () => browser!;
}
