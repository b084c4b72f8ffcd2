// Bun.serve: GET / -> "hello".   bun bench/http/bun-serve.mjs PORT [hono]
const port = Number(process.argv[2]);
let fetch = (req) => (new URL(req.url).pathname === '/' ? new Response('hello') : new Response('not found', { status: 404 }));
if (process.argv[3] === 'hono') {
  const { Hono } = await import('hono');
  const app = new Hono();
  app.get('/', (c) => c.text('hello'));
  fetch = app.fetch;
}
Bun.serve({ port, hostname: '127.0.0.1', fetch });
console.log('ready');
