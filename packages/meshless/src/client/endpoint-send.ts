import { type Endpoint, neverAborted } from '@meshless/core';
import type { Sender } from './client-ports.ts';
import { MeshResponse } from './mesh-response.ts';
import type { OutboundCall } from './outbound-call.ts';
import { originOf, toTransportError } from './transport.ts';

/** An endpoint answered with a 5xx: a failure for breaker and balancer, a result for retry. */
export class ServerErrorResult extends Error {
  constructor(readonly response: Response) {
    super(`HTTP ${response.status}`);
  }
}

/** Sends the call's request to one endpoint and wraps the answer; a 5xx comes back as ServerErrorResult. */
export async function sendTo(
  sender: Sender,
  call: OutboundCall,
  target: Endpoint,
  signal: AbortSignal,
  started: number,
): Promise<Response> {
  // The attempt's timeout and a live caller or hedge signal abort the request through its
  // handler: no AbortController and no listener per call on the common path.
  const timeouts = call.policies.timeouts;
  const timed = timeouts?.start(started);
  try {
    const res = await sender.send(target, {
      method: call.method,
      path: call.path,
      headers: call.headers,
      body: call.body,
      signal: signal === neverAborted ? undefined : signal,
      timed,
    });
    const response = new MeshResponse(
      res.status,
      res.statusText,
      res.headers,
      res.body,
      originOf(target),
      call.path,
    );
    // A 5xx arrives buffered, so a retry can drop it and its connection is already free.
    if (res.status >= 500) throw new ServerErrorResult(response);
    return response;
  } catch (error) {
    // Results and aborts (the caller's reason, a meshless timeout) pass as they are.
    if (error instanceof ServerErrorResult || signal.aborted) throw error;
    throw toTransportError(error, target, call.service);
  } finally {
    // A streamed body is not bounded by the attempt timeout once the headers are in.
    if (timed) timeouts!.end(timed);
  }
}
