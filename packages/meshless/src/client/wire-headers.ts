// The client's wire headers, named with every other meshless header in core's wire-headers.ts.
export { CALLER_HEADER, FAULT_HEADER, MIRROR_HEADER } from '@meshless/core';
