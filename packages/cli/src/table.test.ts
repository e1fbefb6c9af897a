import { describe, expect, it } from 'vitest';
import { formatBytes, formatTable, formatTime } from './table.ts';

describe('formatTable', () => {
  it('aligns columns on the widest cell and trims trailing blanks', () => {
    expect(
      formatTable(
        ['INSTANCE', 'STATE', 'DETAIL'],
        [
          ['catalog-1', 'SYNCED', ''],
          ['c-2', 'REJECTED', 'routes[1].to: weights sum to 90'],
        ],
      ),
    ).toEqual([
      'INSTANCE   STATE     DETAIL',
      'catalog-1  SYNCED',
      'c-2        REJECTED  routes[1].to: weights sum to 90',
    ]);
  });

  it('formats times in UTC and sizes in bytes', () => {
    expect(formatTime(Date.UTC(2026, 0, 2, 3, 4, 5, 600))).toBe('2026-01-02 03:04:05Z');
    expect(formatTime(undefined)).toBe('-');
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(2048)).toBe('2.0 KiB');
  });
});
