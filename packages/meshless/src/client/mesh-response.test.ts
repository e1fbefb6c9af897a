import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { MeshResponse } from './mesh-response.ts';

const raw = { 'content-type': 'application/json', 'set-cookie': ['a=1', 'b=2'] };
const bytes = () => new TextEncoder().encode('{"id":42}');

describe('MeshResponse', () => {
  it('is a WHATWG Response with status, headers and a readable body', async () => {
    const res = new MeshResponse(201, 'Created', raw, bytes());
    expect(res).toBeInstanceOf(Response);
    expect(res.status).toBe(201);
    expect(res.ok).toBe(true);
    expect(res.statusText).toBe('Created');
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(res.headers.getSetCookie()).toEqual(['a=1', 'b=2']);
    expect(res.bodyUsed).toBe(false);
    expect(await res.json()).toEqual({ id: 42 });
    expect(res.bodyUsed).toBe(true);
    await expect(res.text()).rejects.toThrow(TypeError);
  });

  it('streams the body when asked for the stream, also from a Node readable', async () => {
    const fromBytes = new MeshResponse(200, undefined, raw, bytes());
    expect(await new Response(fromBytes.body).text()).toBe('{"id":42}');
    expect(fromBytes.bodyUsed).toBe(true);
    const fromStream = new MeshResponse(
      200,
      undefined,
      raw,
      Readable.from([Buffer.from('{"a"'), Buffer.from(':1}')]),
    );
    expect(await fromStream.json()).toEqual({ a: 1 });
    const piped = new MeshResponse(200, undefined, raw, Readable.from([Buffer.from('xy')]));
    const reader = piped.body!.getReader();
    expect(new TextDecoder().decode((await reader.read()).value)).toBe('xy');
  });

  it('hands out copies of a body that views shared memory (a socket read buffer)', async () => {
    const socket = Buffer.from('HTTP/1.1 200 OK\r\n\r\n{"id":42}NEXT');
    const view = socket.subarray(19, 28);
    const bytesOut = await new MeshResponse(200, undefined, raw, view).bytes();
    const bufferOut = await new MeshResponse(200, undefined, raw, view).arrayBuffer();
    const streamed = await new Response(new MeshResponse(200, undefined, raw, view).body).bytes();
    socket.fill(0);
    for (const out of [bytesOut, new Uint8Array(bufferOut), streamed]) {
      expect(new TextDecoder().decode(out)).toBe('{"id":42}');
      expect(out.buffer.byteLength).toBe(9); // nothing of the socket's other bytes is reachable
      expect(Buffer.isBuffer(out)).toBe(false);
    }
  });

  it('clones, and has no body for 204 and HEAD-like answers', async () => {
    const res = new MeshResponse(200, undefined, raw, bytes(), 'http://10.0.0.7:8080', '/items/1');
    expect(res.url).toBe('http://10.0.0.7:8080/items/1');
    const copy = res.clone();
    expect(copy.url).toBe(res.url);
    expect(await copy.text()).toBe('{"id":42}');
    expect(await res.arrayBuffer()).toBeInstanceOf(ArrayBuffer);
    const empty = new MeshResponse(204, undefined, {}, null);
    expect(empty.body).toBeNull();
    expect(await empty.text()).toBe('');
    const blob = await new MeshResponse(200, undefined, raw, bytes()).blob();
    expect(blob.type).toBe('application/json');
  });
});
