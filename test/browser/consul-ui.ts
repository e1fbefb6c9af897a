import { existsSync } from 'node:fs';
import { type Browser, chromium, type Page } from 'playwright-core';

/** Debian's package; CI installs it in .ci/run. */
export const CHROMIUM_PATH = '/usr/bin/chromium';

const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

/** Headless Chromium. A missing browser is a failure, not a skip: CI must run this test. */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(
      `Chromium not found at ${CHROMIUM_PATH}: the browser test drives the real Consul UI. ` +
        'Install it with `apt-get update && apt-get install -y --no-install-recommends chromium` ' +
        '(.ci/run does this on CI).',
    );
  }
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS });
}

interface CodeMirrorHost {
  CodeMirror: { getValue(): string };
}

/** The text in the value editor (Consul 1.8's UI hangs the CodeMirror instance on `.CodeMirror`). */
export function editorText(page: Page): Promise<string> {
  return page
    .locator('.CodeMirror')
    .evaluate((el) => (el as unknown as CodeMirrorHost).CodeMirror.getValue());
}

/** Opens the UI's edit page for a KV key and returns the text the operator sees. */
export async function openKvEditor(page: Page, consulAddress: string, key: string): Promise<string> {
  await page.goto(`http://${consulAddress}/ui/dc1/kv/${key}/edit`);
  await page.locator('.CodeMirror-code').waitFor({ state: 'visible' });
  return editorText(page);
}

/**
 * Replaces the editor's content the way an operator does: click into the text, select all, type.
 * Clicking the lines (not the `.CodeMirror` box, whose centre is not the scroller) focuses
 * CodeMirror's hidden textarea; insertText then arrives as one input event, so CodeMirror's
 * auto-indent does not reshape a multi-line document.
 */
export async function replaceEditorText(page: Page, text: string): Promise<void> {
  await page.locator('.CodeMirror-code').click();
  await page.keyboard.press('ControlOrMeta+a');
  await page.keyboard.insertText(text);
  const now = await editorText(page);
  if (now !== text)
    throw new Error(`the editor holds ${JSON.stringify(now)}, expected ${JSON.stringify(text)}`);
}

export interface SaveResult {
  /** HTTP status of the UI's PUT to /v1/kv. */
  readonly status: number;
  /** The body the UI sent. */
  readonly body: string | null;
  /** The flash message the UI showed. */
  readonly message: string;
}

/** Clicks Save, waits for the UI's PUT and its success message, and screenshots the result. */
export async function saveKv(page: Page, screenshotPath: string): Promise<SaveResult> {
  const put = page.waitForResponse((r) => r.request().method() === 'PUT' && r.url().includes('/v1/kv/'));
  await page.getByRole('button', { name: 'Save', exact: true }).click();
  const res = await put;
  if (!res.ok()) throw new Error(`the UI's save failed: HTTP ${res.status()} ${await res.text()}`);
  // The flash wrapper has no box of its own; its role="alert" paragraph is what shows.
  const flash = page.getByRole('alert').filter({ hasText: 'Your key has been saved' });
  await flash.waitFor({ state: 'visible' });
  await page.screenshot({ path: screenshotPath });
  const message = (await flash.textContent())?.replace(/\s+/g, ' ').trim() ?? '';
  return { status: res.status(), body: res.request().postData(), message };
}
