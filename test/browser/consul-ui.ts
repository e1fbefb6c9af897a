import { existsSync } from 'node:fs';
import { type Browser, chromium, type Locator, type Page } from 'playwright-core';

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

/** Runs `fn`; when it throws, screenshots the page to `path` first (the test's failure evidence). */
export async function screenshotOnFailure<T>(page: Page, path: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    await page.screenshot({ path, fullPage: true }).catch(() => undefined);
    throw error;
  }
}

/** Text with the template's whitespace folded, as the operator reads it. */
const folded = (s: string | null) => (s ?? '').replace(/\s+/g, ' ').trim();

/**
 * Picks a service in one of the intention form's power-select dropdowns ('Source Service' or
 * 'Destination Service') the way an operator does: open it, type the name, click the option that is
 * exactly that name. The option list is the catalog the UI loaded with the page, so the service must
 * be registered before the form opens; a name it does not know only offers "Use a Consul Service
 * called '…'", which fails here on purpose.
 */
async function pickService(page: Page, label: string, name: string): Promise<void> {
  const field = page.locator('label.type-select').filter({ hasText: label });
  await field.locator('.ember-power-select-trigger').click();
  await page.locator('.ember-power-select-dropdown .ember-power-select-search-input').fill(name);
  const options = page.locator('.ember-power-select-dropdown li[role="option"]');
  const exact = options.filter({ hasText: new RegExp(`^\\s*${escapeRegExp(name)}\\s*$`) });
  if ((await exact.count()) !== 1) {
    const offered = (await options.allTextContents()).map(folded);
    throw new Error(`${label}: the UI offers ${JSON.stringify(offered)}, not the service ${name}`);
  }
  await exact.click();
  const selected = folded(await field.locator('.ember-power-select-selected-item').textContent());
  if (selected !== name)
    throw new Error(`${label}: the UI shows ${JSON.stringify(selected)} selected, not ${name}`);
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

export interface IntentionSaveResult {
  /** HTTP status of the UI's POST to /v1/connect/intentions. */
  readonly status: number;
  /** The body the UI sent. */
  readonly body: unknown;
  /** The intention's ID from Consul's answer. */
  readonly id: string;
  /** The flash message the UI showed. */
  readonly message: string;
  /** Date.now() just before the Save click. */
  readonly clickedAt: number;
  /** Date.now() once the success message showed. */
  readonly confirmedAt: number;
}

/**
 * Creates an intention in the UI's Intentions tab: list page, Create, source, destination, the
 * Allow/Deny radio, Save; resolves once the UI's POST succeeded and its success message shows.
 */
export async function createIntention(
  page: Page,
  consulAddress: string,
  intention: { source: string; destination: string; action: 'allow' | 'deny'; description?: string },
  screenshotPath: string,
): Promise<IntentionSaveResult> {
  await page.goto(`http://${consulAddress}/ui/dc1/intentions`);
  await page.getByRole('link', { name: 'Create', exact: true }).click();
  await page.getByRole('heading', { name: 'New Intention' }).waitFor({ state: 'visible' });
  await pickService(page, 'Source Service', intention.source);
  await pickService(page, 'Destination Service', intention.destination);
  await page.getByRole('radio', { name: intention.action === 'deny' ? 'Deny' : 'Allow' }).check();
  if (intention.description !== undefined)
    await page.getByPlaceholder('Description (Optional)').fill(intention.description);
  const post = page.waitForResponse(
    (r) => r.request().method() === 'POST' && new URL(r.url()).pathname === '/v1/connect/intentions',
  );
  const clickedAt = Date.now();
  await page.getByRole('button', { name: 'Save', exact: true }).click();
  const res = await post;
  if (!res.ok()) throw new Error(`the UI's save failed: HTTP ${res.status()} ${await res.text()}`);
  const { ID: id } = (await res.json()) as { ID: string };
  const flash = page.getByRole('alert').filter({ hasText: 'Your intention has been saved' });
  await flash.waitFor({ state: 'visible' });
  const confirmedAt = Date.now();
  await page.screenshot({ path: screenshotPath });
  return {
    status: res.status(),
    body: JSON.parse(res.request().postData() ?? 'null'),
    id,
    message: folded(await flash.textContent()),
    clickedAt,
    confirmedAt,
  };
}

/**
 * The intentions list's row from `source` to `destination` (its cells read "<name> default": the
 * namespace follows the name). Its `td.intent-deny` / `td.intent-allow` cell shows the action.
 */
export function intentionRow(page: Page, intention: { source: string; destination: string }): Locator {
  const exactly = (name: string) => new RegExp(`^\\s*${escapeRegExp(name)}\\s`);
  return page
    .locator('table.consul-intention-list tbody tr')
    .filter({ has: page.locator('td.source', { hasText: exactly(intention.source) }) })
    .filter({ has: page.locator('td.destination', { hasText: exactly(intention.destination) }) });
}

export interface IntentionDeleteResult {
  /** HTTP status of the UI's DELETE. */
  readonly status: number;
  /** The path the UI deleted (/v1/connect/intentions/<id>). */
  readonly path: string;
  readonly message: string;
  /** Date.now() just before the confirming Delete click. */
  readonly clickedAt: number;
  /** Date.now() once the success message showed. */
  readonly confirmedAt: number;
}

/**
 * Deletes the intention from `source` to `destination` on the list page: the row's More menu,
 * Delete, then Delete in the confirmation; resolves once the DELETE succeeded and the message shows.
 */
export async function deleteIntentionInUi(
  page: Page,
  consulAddress: string,
  intention: { source: string; destination: string },
  screenshotPath: string,
): Promise<IntentionDeleteResult> {
  await page.goto(`http://${consulAddress}/ui/dc1/intentions`);
  const row = intentionRow(page, intention);
  await row.getByRole('button', { name: 'More' }).click();
  await row.getByRole('menuitem', { name: 'Delete' }).click();
  const del = page.waitForResponse(
    (r) => r.request().method() === 'DELETE' && r.url().includes('/v1/connect/intentions/'),
  );
  const clickedAt = Date.now();
  await row.getByRole('button', { name: 'Delete', exact: true }).click();
  const res = await del;
  if (!res.ok()) throw new Error(`the UI's delete failed: HTTP ${res.status()} ${await res.text()}`);
  const flash = page.getByRole('alert').filter({ hasText: 'Your intention has been deleted' });
  await flash.waitFor({ state: 'visible' });
  const confirmedAt = Date.now();
  await page.screenshot({ path: screenshotPath });
  return {
    status: res.status(),
    path: new URL(res.url()).pathname,
    message: folded(await flash.textContent()),
    clickedAt,
    confirmedAt,
  };
}
