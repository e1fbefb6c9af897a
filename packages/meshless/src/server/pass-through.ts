import type { Logger } from '@meshless/core';
import type { PropagatedHeaders } from '../propagation/propagated-headers.ts';
import { answerError, logHandlerError } from './error-response.ts';
import type { InboundGuard } from './inbound-guard.ts';

/**
 * What serves requests when the mesh has no service name (no inbound rules to apply): the
 * handler runs as is (with the propagated headers); an error it throws is still answered (never
 * an unhandled rejection).
 */
export function passThrough(logger: Logger, propagation?: PropagatedHeaders): Pick<InboundGuard, 'run'> {
  return {
    run: async (req, res, handle) => {
      try {
        await (propagation ? propagation.run(req.headers, handle) : handle());
      } catch (error) {
        logHandlerError(logger, undefined, error);
        answerError(res, error);
      }
    },
  };
}
