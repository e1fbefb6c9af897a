import { describe, expect, it } from 'vitest';
import { sampleReport, sampleRollout, sampleStatus } from './fixtures.ts';
import { buildFleetView } from './model.ts';
import { renderFrame, ruleCell } from './render.ts';

const view = buildFleetView({
  report: sampleReport([{ caller: 'gateway', service: 'catalog', ejected: 1, openBreakers: 2 }]),
  statuses: [sampleStatus()],
  rollouts: [sampleRollout()],
});

describe('renderFrame', () => {
  it('renders a fixed view as exactly this frame', () => {
    expect(renderFrame(view)).toEqual([
      'meshless top  08:00:00Z  window 10s  3 rows  4 instances  1 not answering',
      '',
      'SERVICE  VERSION  UP   RPS   SUCCESS  P50    P95    P99   RULES             EJECTED  OPEN CB',
      'catalog  v1       1/1  90.0  100.00%  2.0ms  8.0ms  12ms  SYNCED 2          1        2',
      'catalog  v2       1/2  10.0  95.00%   3.0ms  20ms   40ms  SYNCED 1 STALE 1  1        2',
      'gateway  -        1/1  0.0   -        -      -      -     REJECTED 1        0        0',
      '',
      'CALLER   SERVICE  SUBSET  RPS   ERRORS  P99',
      'gateway  catalog  v1      90.0  0.00%   12ms',
      'gateway  catalog  v2      10.0  5.00%   12ms',
      '',
      'ROLLOUT  CANARY    WEIGHT  STEP  STATUS   LAST DECISION',
      'catalog  v2 vs v1  25%     2/4   running  hold: too few requests',
      '',
      'not answering: catalog cat-3: timeout',
    ]);
  });

  it('fits the terminal: lines cut to its width, the frame to its height with a count of what was left out', () => {
    const lines = renderFrame(view, { columns: 20, rows: 6 });
    expect(lines).toHaveLength(6);
    for (const l of lines) expect(l.length).toBeLessThanOrEqual(20);
    expect(lines[2]).toBe('SERVICE  VERSION  UP');
    expect(lines[5]).toBe('... 10 more lines (a');
  });

  it('shows a failed refresh under the header, and says so when nothing serves signals', () => {
    const empty = buildFleetView({ report: { ...sampleReport(), instances: [], services: [], edges: [] } });
    expect(renderFrame(empty, { error: 'connect ECONNREFUSED' })).toEqual([
      'meshless top  08:00:00Z  window 10s  0 rows  0 instances',
      'refresh failed: connect ECONNREFUSED',
      '',
      'no instances serve signals (is metrics on? is the service registered?)',
    ]);
  });

  it('names rule states that are present, in a fixed order', () => {
    expect(ruleCell({ SYNCED: 0, STALE: 0, REJECTED: 0 })).toBe('-');
    expect(ruleCell({ SYNCED: 3, STALE: 0, REJECTED: 1 })).toBe('SYNCED 3 REJECTED 1');
  });
});
