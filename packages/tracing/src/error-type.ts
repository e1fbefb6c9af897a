import { MeshlessError } from '@meshless/core';

/**
 * The low-cardinality `error.type` of a failure: a meshless error's stable code
 * (`MESHLESS_TIMEOUT`), a Node or undici error code (`ECONNREFUSED`, `UND_ERR_SOCKET`), else
 * the error's class name, else `_OTHER`.
 */
export function errorTypeOf(error: unknown): string {
  if (MeshlessError.isInstance(error)) return error.code;
  if (typeof error === 'object' && error !== null) {
    const code = (error as { code?: unknown }).code;
    if (typeof code === 'string' && code !== '') return code;
    const name = (error as { name?: unknown }).name;
    if (typeof name === 'string' && name !== '') return name;
  }
  return '_OTHER';
}
