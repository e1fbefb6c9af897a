import { describe, expect, it } from 'vitest';
import { consulPermissionText, missingPermission, requiredPermission } from './acl-permission.ts';

describe('requiredPermission', () => {
  it('names the permission of each API meshless calls, from method and path', () => {
    const body = JSON.stringify({ Name: 'catalog', ID: 'catalog-1' });
    expect(requiredPermission('PUT', '/v1/agent/service/register', body)).toBe('service:write on "catalog"');
    expect(requiredPermission('PUT', '/v1/agent/service/register')).toBe('service:write on the service');
    expect(requiredPermission('PUT', '/v1/agent/service/deregister/catalog-1')).toBe(
      'service:write on the service of instance "catalog-1"',
    );
    expect(requiredPermission('GET', '/v1/agent/connect/ca/leaf/catalog')).toBe('service:write on "catalog"');
    expect(requiredPermission('GET', '/v1/health/service/orders?passing')).toBe(
      'service:read on "orders" and node:read',
    );
    expect(requiredPermission('GET', '/v1/kv/meshless/services/a%2Fb/routes')).toBe(
      'key:read on "meshless/services/a/b/routes"',
    );
    expect(requiredPermission('PUT', '/v1/kv/meshless/_status/marker')).toBe(
      'key:write on "meshless/_status/marker"',
    );
    expect(requiredPermission('DELETE', '/v1/kv/x')).toBe('key:write on "x"');
    expect(requiredPermission('GET', '/v1/connect/intentions')).toBe(
      'intentions:read on the destination service (service "<svc>" { intentions = "read" })',
    );
    expect(requiredPermission('GET', '/v1/connect/intentions/match')).toMatch(
      /^intentions:read on the destination/,
    );
    expect(requiredPermission('GET', '/v1/config/service-intentions/web')).toBe(
      'intentions:read on "web" (service "web" { intentions = "read" })',
    );
    expect(requiredPermission('POST', '/v1/agent/connect/authorize', '{"Target":"db"}')).toBe(
      'service:write on "db"',
    );
    expect(requiredPermission('POST', '/v1/agent/connect/authorize')).toBe('service:write on the target');
    expect(requiredPermission('GET', '/v1/agent/self')).toBe('agent:read');
    expect(requiredPermission('PUT', '/v1/agent/check/update/service:x')).toBe(
      'service:write on the service the check belongs to',
    );
    expect(requiredPermission('GET', '/v1/catalog/services')).toBe('service:read');
    expect(requiredPermission('get', '/v1/status/peers')).toBe('a permission for GET /v1/status/peers');
    expect(requiredPermission('GET', 'not-an-api-path')).toBe('a permission for GET not-an-api-path');
  });

  it('quotes hostile names so they cannot forge a log line, and bounds them', () => {
    expect(requiredPermission('GET', '/v1/kv/a%0Ainjected%22')).toBe('key:read on "a\\ninjected\\""');
    expect(requiredPermission('GET', '/v1/kv/%E0%A4%A')).toBe('key:read on "%E0%A4%A"');
    const long = requiredPermission('GET', `/v1/kv/${'k'.repeat(10_000)}`);
    expect(long.length).toBeLessThan(230);
    expect(requiredPermission('PUT', '/v1/agent/service/register', '{"Name": 5')).toBe(
      'service:write on the service',
    );
    expect(requiredPermission('PUT', '/v1/agent/service/register', '{"__proto__": {"Name": "x"}}')).toBe(
      'service:write on the service',
    );
  });
});

describe('consulPermissionText', () => {
  it("prefers Consul's own words (1.9+), says what 'ACL not found' means, and has none for 1.8's bare text", () => {
    const later = `Permission denied: token with AccessorID 'a1b2' lacks permission 'service:write' on "web"`;
    expect(consulPermissionText(later)).toBe(`'service:write' on "web"`);
    expect(missingPermission('GET', '/v1/kv/x', undefined, later)).toBe(`'service:write' on "web"`);
    expect(consulPermissionText('Permission denied: Missing service:write on web')).toBe(
      'service:write on web',
    );
    expect(consulPermissionText('ACL not found')).toMatch(/^a token Consul knows/);
    expect(consulPermissionText('Permission denied')).toBeUndefined();
    expect(missingPermission('GET', '/v1/kv/x', undefined, 'Permission denied')).toBe('key:read on "x"');
    expect(consulPermissionText(`lacks permission ${'x'.repeat(5000)}`)!.length).toBeLessThanOrEqual(303);
  });
});
