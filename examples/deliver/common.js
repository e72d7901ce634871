// examples/deliver/common.js - what both endpoints share: Stripe-Signature
// checking (HMAC-SHA256 of "t.body", 300 s tolerance) and the HTTP server.
'use strict';
const crypto = require('node:crypto');
const http = require('node:http');

function verify(secret, header, body) {
  const parts = (header || '').split(',').map((p) => p.trim().split('='));
  const t = Number((parts.find(([k]) => k === 't') || [])[1]);
  if (!Number.isInteger(t)) return false;
  const want = crypto.createHmac('sha256', secret).update(`${t}.`).update(body).digest();
  const ok = parts.some(([k, v]) => k === 'v1' && v && v.length === want.length * 2 &&
    crypto.timingSafeEqual(Buffer.from(v, 'hex'), want));
  return ok && Math.abs(Date.now() / 1000 - t) <= 300;
}

// handle(event) resolves to an HTTP status.
function serve(handle) {
  const secret = process.env.WEBHOOK_SECRET;
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', async () => {
      const body = Buffer.concat(chunks);
      let status = 400;
      if (verify(secret, req.headers['stripe-signature'], body)) {
        try { status = await handle(JSON.parse(body)); } catch (e) { status = 500; }
      }
      res.writeHead(status).end();
    });
  });
  server.listen(Number(process.env.PORT || 0), '127.0.0.1', () => {
    console.log(`listening ${server.address().port}`);
  });
}

module.exports = { serve };
