import type { Logger } from '@meshless/core';
import { answerError, logHandlerError } from './error-response.ts';
import type { InboundGuard } from './inbound-guard.ts';

/**
 * What serves requests when the mesh has no service name (no inbound rules to apply): the
 * handler runs as is; an error it throws is still answered (never an unhandled rejection).
 */
export function passThrough(logger: Logger): Pick<InboundGuard, 'run'> {
  return {
    run: async (_req, res, handle) => {
      try {
        await handle();
      } catch (error) {
        logHandlerError(logger, undefined, error);
        answerError(res, error);
      }
    },
  };
}
