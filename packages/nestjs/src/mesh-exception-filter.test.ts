import type { ArgumentsHost, HttpServer } from '@nestjs/common';
import { HttpException, Logger } from '@nestjs/common';
import {
  CircuitOpenError,
  ConfigError,
  DeadlineExceededError,
  NoHealthyEndpointError,
  RateLimitedError,
  TimeoutError,
} from 'meshless';
import { beforeAll, describe, expect, it } from 'vitest';
import { MeshExceptionFilter } from './mesh-exception-filter.ts';

interface Answer {
  status?: number;
  body?: unknown;
  headers: Record<string, string>;
  ended: boolean;
}

/** An HTTP adapter that records what the filter answers, and an ArgumentsHost around it. */
function setup(headersSent = false): { filter: MeshExceptionFilter; host: ArgumentsHost; answer: Answer } {
  const answer: Answer = { headers: {}, ended: false };
  const adapter = {
    isHeadersSent: () => headersSent,
    setHeader: (_res: unknown, name: string, value: string) => {
      answer.headers[name] = value;
    },
    reply: (_res: unknown, body: unknown, status: number) => {
      answer.status = status;
      answer.body = body;
    },
    end: () => {
      answer.ended = true;
    },
  } as unknown as HttpServer;
  const host = {
    getType: () => 'http',
    switchToHttp: () => ({ getResponse: () => ({}), getRequest: () => ({}) }),
    getArgByIndex: () => ({}),
    getArgs: () => [],
  } as unknown as ArgumentsHost;
  return { filter: new MeshExceptionFilter(adapter), host, answer };
}

describe('MeshExceptionFilter', () => {
  // Nest logs the errors it handles itself (the 500): not wanted in the test output.
  beforeAll(() => Logger.overrideLogger(false));

  it.each([
    [new TimeoutError('catalog.getItem', 50), 504, 'timeout', 'MESHLESS_TIMEOUT'],
    [new DeadlineExceededError('deadline passed'), 504, 'deadline_exceeded', 'MESHLESS_DEADLINE_EXCEEDED'],
    [new CircuitOpenError('catalog'), 503, 'circuit_open', 'MESHLESS_CIRCUIT_OPEN'],
    [new NoHealthyEndpointError('pricing'), 503, 'no_healthy_endpoint', 'MESHLESS_NO_HEALTHY_ENDPOINT'],
  ])('answers %s with %i', (error, status, label, code) => {
    const { filter, host, answer } = setup();
    filter.catch(error, host);
    expect(answer).toMatchObject({ status, body: { error: label, code }, headers: {} });
  });

  it('answers rate limited with 429 and Retry-After in whole seconds, at least 1', () => {
    const { filter, host, answer } = setup();
    filter.catch(new RateLimitedError('catalog.getItem', 1200), host);
    expect(answer).toMatchObject({ status: 429, headers: { 'retry-after': '2' } });
    const short = setup();
    short.filter.catch(new RateLimitedError('catalog.getItem', 10), short.host);
    expect(short.answer.headers).toEqual({ 'retry-after': '1' });
  });

  it("leaves other errors, and meshless errors without a status of their own, to Nest's handling", () => {
    const http = setup();
    http.filter.catch(new HttpException('nope', 418), http.host);
    expect(http.answer).toMatchObject({ status: 418, body: { statusCode: 418, message: 'nope' } });
    const config = setup();
    config.filter.catch(new ConfigError('bad', { path: 'x' }), config.host);
    expect(config.answer).toMatchObject({ status: 500, body: { statusCode: 500 } });
  });

  it('ends a response already under way instead of answering twice', () => {
    const { filter, host, answer } = setup(true);
    filter.catch(new TimeoutError('catalog.getItem', 50), host);
    expect(answer).toMatchObject({ ended: true, headers: {} });
    expect(answer.status).toBeUndefined();
  });
});
