// An in-memory Transport for client tests: records requests, answers from a handler, and serves
// watch streams from lines the test pushes.
import type { HttpRequest, HttpResponse, HttpStream, Transport } from '../../../../controlplane/client/transport.ts';

export interface Reply {
  readonly status: number;
  readonly body?: unknown;
}

export class FakeStream {
  readonly #lines: string[] = [];
  #waiter: (() => void) | undefined;
  #ended = false;
  closed = false;

  push(event: unknown): void {
    this.#lines.push(typeof event === 'string' ? event : JSON.stringify(event));
    this.#wake();
  }

  end(): void {
    this.#ended = true;
    this.#wake();
  }

  #wake(): void {
    const w = this.#waiter;
    this.#waiter = undefined;
    w?.();
  }

  async *lines(): AsyncGenerator<string> {
    for (;;) {
      if (this.#lines.length > 0) { yield this.#lines.shift()!; continue; }
      if (this.#ended || this.closed) return;
      await new Promise<void>((r) => { this.#waiter = r; });
    }
  }

  close(): void {
    this.closed = true;
    this.#wake();
  }
}

export class FakeTransport implements Transport {
  readonly requests: HttpRequest[] = [];
  readonly streams: { req: HttpRequest; stream: FakeStream }[] = [];
  handler: (req: HttpRequest) => Reply = () => ({ status: 200, body: {} });
  streamStatus = 200;
  closed = false;

  async request(req: HttpRequest): Promise<HttpResponse> {
    this.requests.push(req);
    const r = this.handler(req);
    return { status: r.status, headers: {}, text: r.body === undefined ? '' : JSON.stringify(r.body) };
  }

  async stream(req: HttpRequest): Promise<HttpStream> {
    const stream = new FakeStream();
    this.streams.push({ req, stream });
    return { status: this.streamStatus, headers: {}, lines: stream.lines(), close: () => stream.close() };
  }

  close(): void {
    this.closed = true;
  }
}
