import type { ExecuteContext } from '@meshless/core';
import type { OutboundCall } from './outbound-call.ts';

// The governed client is a chain of stages, composed once when the client is made (each stage
// reads the rules and endpoints in force when a call passes): route -> headers -> policies ->
// attempt. A stage is a function over the next one, as an undici interceptor is.

/** Runs one call from this stage on. */
export type CallHandler = (call: OutboundCall) => Promise<Response>;

/** Runs one attempt of a call (the policies may run several). */
export type AttemptHandler = (call: OutboundCall, ctx: ExecuteContext) => Promise<Response>;

/** A stage of the call: given what comes after it, what runs the call from here. */
export type Stage = (next: CallHandler) => CallHandler;
