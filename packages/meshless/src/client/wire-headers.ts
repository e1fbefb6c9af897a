// The client's wire headers (until core names every meshless header in one file).
export const CALLER_HEADER = 'x-meshless-caller';
export const FAULT_HEADER = 'x-meshless-fault';
export const MIRROR_HEADER = 'x-meshless-mirror';
