import { isThenable } from '@meshless/core';
import { errorTypeOf } from './error-type.ts';
import { MeshSpan } from './mesh-span.ts';
import { context } from './otel.ts';

/** The INTERNAL span of one call of a governed (decorated) method. */
export class GovernedSpan extends MeshSpan {
  /** Ends the span: failed when `error` is given. */
  end(error?: unknown): void {
    if (this.ended) return;
    if (error !== undefined && error !== null) {
      try {
        this.fail(error, errorTypeOf(error));
      } catch {
        // never into user code
      }
    }
    this.finish();
  }

  /**
   * Calls `fn` with this span active and ends the span when the result settles (sync or
   * async). The caller gets `fn`'s own result or throw, untouched.
   */
  trace<R>(fn: (...args: never[]) => R, thisArg: unknown, args: readonly unknown[]): R {
    let result: R;
    try {
      result = context.with(this.context, fn as (...a: unknown[]) => R, thisArg, ...args);
    } catch (error) {
      this.end(error);
      throw error;
    }
    if (isThenable(result)) {
      // A side branch: the caller keeps the original promise, and this branch never rejects.
      result.then(
        () => this.end(),
        (error: unknown) => this.end(error),
      );
    } else {
      this.end();
    }
    return result;
  }
}
