// The part of autocannon 8's programmatic API that load.ts uses (the package ships no types).
declare module 'autocannon' {
  namespace autocannon {
    interface Request {
      method?: string;
      path?: string;
      headers?: Record<string, string>;
      body?: string | Buffer;
      setupRequest?: (req: Request, context: Record<string, unknown>) => Request;
      onResponse?: (status: number, body: string, context: Record<string, unknown>, headers: Record<string, string>) => void;
    }
    interface Options {
      url: string;
      connections?: number;
      pipelining?: number;
      timeout?: number;
      duration?: number;
      amount?: number;
      requests?: Request[];
    }
    interface Histogram {
      p50: number;
      p99: number;
      mean: number;
      max: number;
    }
    interface Result {
      latency: Histogram;
      errors: number;
      timeouts: number;
      non2xx: number;
      duration: number;
      requests: { total: number };
    }
  }
  function autocannon(options: autocannon.Options): Promise<autocannon.Result>;
  export = autocannon;
}
