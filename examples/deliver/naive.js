// examples/deliver/naive.js - the webhook handler as it is often written:
// look, then insert. Two copies of one event that arrive together both see
// nothing and both insert; a refund delivered twice is refunded twice.
'use strict';
const { Pool } = require('pg');
const { serve } = require('./common');
const pool = new Pool({ connectionString: process.env.DATABASE_URL, max: 10 });

serve(async (event) => {
  const o = event.data.object;
  const intent = o.object === 'payment_intent' ? o.id : o.payment_intent;
  if (event.type === 'payment_intent.created' || event.type === 'payment_intent.succeeded') {
    const r = await pool.query('select id from payments where intent = $1', [intent]);
    if (r.rowCount === 0) {
      await pool.query('insert into payments (intent, order_id, status) values ($1, $2, $3)',
        [intent, o.metadata.order_id, o.status]);
    } else {
      await pool.query('update payments set status = $2 where intent = $1', [intent, o.status]);
    }
  } else if (event.type === 'charge.refunded') {
    const r = await pool.query('select id from refunds where charge = $1', [o.id]);
    if (r.rowCount === 0)
      await pool.query('insert into refunds (intent, charge) values ($1, $2)', [intent, o.id]);
  }
  return 200;
});
