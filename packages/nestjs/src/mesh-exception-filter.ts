import { type ArgumentsHost, Catch, type HttpServer } from '@nestjs/common';
import { BaseExceptionFilter } from '@nestjs/core';
import { type MeshlessError, meshlessErrorResponse } from 'meshless';

/**
 * Answers meshless errors that reach a route with their HTTP status, as meshless's own adapters
 * do: timeout and deadline exceeded 504; circuit open, no healthy endpoint, bulkhead full 503;
 * rate limited 429 with Retry-After. Body `{ error, code }`, e.g.
 * `{ "error": "circuit_open", "code": "MESHLESS_CIRCUIT_OPEN" }`. Everything else goes to Nest's
 * own handling. Global: `{ provide: APP_FILTER, useClass: MeshExceptionFilter }`, or
 * `app.useGlobalFilters(new MeshExceptionFilter(app.getHttpAdapter()))`. HTTP only.
 */
@Catch()
export class MeshExceptionFilter extends BaseExceptionFilter {
  override catch(exception: unknown, host: ArgumentsHost): void {
    const mapped = meshlessErrorResponse(exception);
    const adapter: HttpServer | undefined = this.applicationRef ?? this.httpAdapterHost?.httpAdapter;
    // A meshless error without a status of its own (500) is a bug: Nest logs and answers it.
    if (mapped === undefined || mapped.status === 500 || adapter === undefined || host.getType() !== 'http') {
      super.catch(exception, host);
      return;
    }
    const response: unknown = host.switchToHttp().getResponse();
    if (adapter.isHeadersSent(response)) {
      adapter.end(response);
      return;
    }
    for (const [name, value] of Object.entries(mapped.headers)) adapter.setHeader(response, name, value);
    const { code } = exception as MeshlessError;
    adapter.reply(response, { error: code.replace(/^MESHLESS_/, '').toLowerCase(), code }, mapped.status);
  }
}
