// Every header meshless puts on the wire, named once. Lower case: Node's http module hands
// incoming header names over lower-cased, and HTTP/2 requires it.

/** The calling service's name (set by the client; matched by callees' `match.caller`, keyed by `perCaller`). */
export const CALLER_HEADER = 'x-meshless-caller';

/**
 * The caller's remaining time, whole milliseconds, relative (clock skew between hosts does not
 * matter); written and parsed by `@meshless/retry`'s deadline-header.
 */
export const DEADLINE_HEADER = 'x-meshless-deadline';

/** On a request answered by an injected fault (a route's `fault`), instead of the callee. */
export const FAULT_HEADER = 'x-meshless-fault';

/** On the copy of a request sent to a route's `mirror` (fire and forget). */
export const MIRROR_HEADER = 'x-meshless-mirror';

/** On a response the server refused to serve (load shedding, shutting down): why. */
export const SHED_HEADER = 'x-meshless-shed';
