// No imports: this runs before any dependency loads, on Node versions those dependencies crash on.

/**
 * The oldest Node.js meshless runs on: undici 8 needs 22.19 (zlib's zstd, among others) and the
 * OpenTelemetry packages 22.15. Kept equal to `engines.node` in every package.json (a test checks).
 */
export const MIN_NODE_VERSION = '22.19.0';

/** `[major, minor, patch]` of "22.19.0" or "v22.19.0-pre"; undefined when it does not read as one. */
function parts(version: string): [number, number, number] | undefined {
  const numbers = version
    .replace(/^v/, '')
    .split(/[-+]/, 1)[0]!
    .split('.')
    .map((part) => (/^\d{1,9}$/.test(part) ? Number(part) : Number.NaN));
  if (numbers.length !== 3 || numbers.some(Number.isNaN)) return undefined;
  return numbers as [number, number, number];
}

/**
 * Whether `version` is `floor` or newer. A version that does not read as major.minor.patch passes:
 * the check is there to explain a crash, not to refuse a runtime it cannot read.
 */
export function nodeVersionAtLeast(version: string, floor: string = MIN_NODE_VERSION): boolean {
  const have = parts(version);
  const need = parts(floor);
  if (have === undefined || need === undefined) return true;
  for (let i = 0; i < 3; i++) {
    if (have[i]! !== need[i]!) return have[i]! > need[i]!;
  }
  return true;
}

/** What to tell the user when `version` is too old (`who` needs it), or undefined when it is new enough. */
export function nodeVersionProblem(who: string, version: string = process.versions.node): string | undefined {
  if (nodeVersionAtLeast(version)) return undefined;
  return (
    `${who} needs Node.js >= ${MIN_NODE_VERSION} (this is ${version}): its HTTP client (undici 8) and ` +
    `OpenTelemetry use Node.js APIs that older versions lack. Install Node.js ${MIN_NODE_VERSION} or newer ` +
    '(any 22.x from 22.19, or 24 LTS), e.g. `nvm install 22`.'
  );
}
