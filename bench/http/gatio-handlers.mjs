// The bench's handlers, on every driver: the fast one, a fetch one, and Hono.
import { defineHttpHandler } from 'gatio';
import { Hono } from 'hono';

defineHttpHandler('fast', {
  request(req, res) {
    if (req.path === '/') res.end('hello');
    else res.status(404).end('not found');
  },
});

defineHttpHandler('fetch', {
  fetch(request) {
    return new URL(request.url).pathname === '/' ? new Response('hello') : new Response('not found', { status: 404 });
  },
});

const app = new Hono();
app.get('/', (c) => c.text('hello'));
defineHttpHandler('hono', { fetch: app.fetch });
