import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';

export type ProxyDecision =
  | 'pass'
  /** Answer `status` without forwarding: the request never reaches MLflow. */
  | { status: number; forward: false }
  /** Forward (optionally rewriting the body), then answer `status`: MLflow applied it, the client hears a failure. */
  | { status: number; forward: true; rewrite?: (body: Record<string, unknown>) => Record<string, unknown> };

export interface ProxyRequest {
  method: string;
  path: string;
  body: Record<string, unknown> | undefined;
}

/**
 * An HTTP proxy in front of a real MLflow server that fails requests on demand and counts, per metric key,
 * the points that reached MLflow in log-batch calls it accepted.
 */
export async function startFaultProxy(
  upstream: string,
  decide: (request: ProxyRequest, index: number) => ProxyDecision,
  /** Listen here (default: any free port). */
  port = 0,
) {
  const landed = new Map<string, number>();
  let index = 0;
  const http = createServer(async (request, response) => {
    const raw = await readBody(request);
    const path = request.url ?? '/';
    const json = request.headers['content-type']?.includes('json') && raw.length > 0;
    let body = json ? (JSON.parse(raw.toString('utf8')) as Record<string, unknown>) : undefined;
    const decision = decide({ method: request.method ?? 'GET', path, body }, index++);
    if (decision !== 'pass' && !decision.forward) {
      response.writeHead(decision.status, { 'Content-Type': 'application/json' });
      response.end(JSON.stringify({ error_code: 'TEMPORARILY_UNAVAILABLE', message: 'injected failure' }));
      return;
    }
    if (decision !== 'pass' && decision.rewrite && body) body = decision.rewrite(body);
    let forwarded: Response;
    try {
      forwarded = await fetch(`${upstream}${path}`, {
        method: request.method ?? 'GET',
        headers: { 'Content-Type': String(request.headers['content-type'] ?? 'application/octet-stream') },
        body: request.method === 'GET' ? undefined : body ? JSON.stringify(body) : new Uint8Array(raw),
      });
    } catch (error) {
      response.writeHead(502, { 'Content-Type': 'application/json' });
      response.end(JSON.stringify({ error_code: 'BAD_GATEWAY', message: String(error) }));
      return;
    }
    const answer = Buffer.from(await forwarded.arrayBuffer());
    if (forwarded.ok && path.startsWith('/api/2.0/mlflow/runs/log-batch')) {
      for (const metric of (body?.metrics ?? []) as Array<{ key: string }>) {
        landed.set(metric.key, (landed.get(metric.key) ?? 0) + 1);
      }
    }
    if (decision === 'pass') {
      response.writeHead(forwarded.status, {
        'Content-Type': forwarded.headers.get('content-type') ?? 'text/plain',
      });
      response.end(answer);
    } else {
      response.writeHead(decision.status, { 'Content-Type': 'application/json' });
      response.end(
        JSON.stringify({ error_code: 'INTERNAL_ERROR', message: 'injected failure after forwarding' }),
      );
    }
  });
  await new Promise<void>((resolve) => http.listen(port, '127.0.0.1', resolve));
  return {
    uri: `http://127.0.0.1:${(http.address() as AddressInfo).port}`,
    /** Metric points per key that reached MLflow through this proxy. */
    landed,
    close: () => new Promise<void>((resolve) => http.close(() => resolve())),
  };
}

function readBody(request: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => resolve(Buffer.concat(chunks)));
    request.on('error', reject);
  });
}
