import { ATTR_HTTP_RESPONSE_STATUS_CODE } from './attributes.ts';
import { errorTypeOf } from './error-type.ts';
import { MeshSpan } from './mesh-span.ts';

/**
 * The SERVER span of one inbound request, continuing the caller's trace. Run the handler with
 * `run()` so the calls it makes are children; end it when the response is finished.
 */
export class ServerSpan extends MeshSpan {
  /** The status sent and, if the handler failed, why. Server spans fail on 5xx only (semconv). */
  end(status?: number, error?: unknown): void {
    if (this.ended) return;
    try {
      if (status !== undefined) this.span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, status);
      if (error !== undefined && error !== null) this.fail(error, errorTypeOf(error));
      else if (status !== undefined && status >= 500) this.fail(undefined, String(status));
    } catch {
      // never into user code
    }
    this.finish();
  }
}
