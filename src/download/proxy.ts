/**
 * Proxy selection from the usual environment variables, curl's rules:
 *
 *   HTTPS_PROXY / https_proxy   for https:// URLs
 *   HTTP_PROXY  / http_proxy    for http:// URLs (not used for https://)
 *   NO_PROXY    / no_proxy      comma- or space-separated hosts that go direct: "*" (everything),
 *                               "example.com" or ".example.com" (the domain and its subdomains),
 *                               "host:port" (that port only), IP addresses as written
 *
 * undici's EnvHttpProxyAgent does almost this, but it is marked experimental (it prints a warning),
 * it sends https through HTTP_PROXY when HTTPS_PROXY is unset, and it reads the process's environment itself;
 * the choice here is a pure function of the environment it is given, so tests can set it.
 */
import { Agent, ProxyAgent, type Dispatcher } from 'undici';

export type Env = Readonly<Record<string, string | undefined>>;

function envValue(env: Env, name: string): string | undefined {
  const v = env[name.toLowerCase()] ?? env[name.toUpperCase()];
  return v?.trim() ? v.trim() : undefined;
}

/** The proxy URL for `target`, or undefined for a direct connection. */
export function proxyFor(target: string | URL, env: Env): string | undefined {
  const url = typeof target === 'string' ? new URL(target) : target;
  const proxy = url.protocol === 'https:' ? envValue(env, 'https_proxy') : url.protocol === 'http:' ? envValue(env, 'http_proxy') : undefined;
  if (!proxy) return undefined;
  return bypassed(url, envValue(env, 'no_proxy')) ? undefined : proxy;
}

function bypassed(url: URL, noProxy: string | undefined): boolean {
  if (!noProxy) return false;
  const host = url.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  const port = url.port || (url.protocol === 'https:' ? '443' : '80');
  for (const raw of noProxy.toLowerCase().split(/[\s,]+/)) {
    if (raw === '') continue;
    if (raw === '*') return true;
    // "host", "host:port", "[v6]", "[v6]:port"; a bare IPv6 address is all host.
    const m = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(raw);
    const entryHost = (m ? m[1]! : raw).replace(/^\[|\]$/g, '').replace(/^\*?\./, '');
    const entryPort = m?.[2];
    if (entryPort !== undefined && entryPort !== port) continue;
    if (host === entryHost || host.endsWith(`.${entryHost}`)) return true;
  }
  return false;
}

/**
 * Hands out one dispatcher per proxy (and one for direct connections), created on first use.
 * undici's own timeouts are turned off: the downloader runs its own stall watchdog.
 */
export class Dispatchers {
  private readonly byProxy = new Map<string, Dispatcher>();
  constructor(private readonly env: Env, private readonly connectTimeoutMs = 30_000) {}

  for(target: string | URL): { dispatcher: Dispatcher; proxy?: string } {
    const proxy = proxyFor(target, this.env);
    const key = proxy ?? '';
    let d = this.byProxy.get(key);
    if (!d) {
      const common = { headersTimeout: 0, bodyTimeout: 0, connect: { timeout: this.connectTimeoutMs } };
      d = proxy ? new ProxyAgent({ uri: proxy, ...common }) : new Agent(common);
      this.byProxy.set(key, d);
    }
    return proxy ? { dispatcher: d, proxy } : { dispatcher: d };
  }

  async close(): Promise<void> {
    await Promise.all([...this.byProxy.values()].map((d) => d.destroy().catch(() => undefined)));
    this.byProxy.clear();
  }
}
