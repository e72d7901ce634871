// examples/deliver/correct.js - the same handler made safe for at-least-once,
// out-of-order delivery: the event id is claimed and its effect applied in
// one transaction (a copy waits on the claim, then does nothing), writes are
// upserts, and a status never moves back from succeeded.
'use strict';
const { Pool } = require('pg');
const { serve } = require('./common');
const pool = new Pool({ connectionString: process.env.DATABASE_URL, max: 10 });

serve(async (event) => {
  const o = event.data.object;
  const intent = o.object === 'payment_intent' ? o.id : o.payment_intent;
  const c = await pool.connect();
  try {
    await c.query('begin');
    const claim = await c.query(
      'insert into processed_events (event_id) values ($1) on conflict do nothing', [event.id]);
    if (claim.rowCount === 1) {
      if (event.type.startsWith('payment_intent.')) {
        await c.query(
          `insert into payments (intent, order_id, status) values ($1, $2, $3)
           on conflict (intent) do update set status = case
             when payments.status = 'succeeded' then payments.status else excluded.status end`,
          [intent, o.metadata.order_id, o.status]);
      } else if (event.type === 'charge.refunded') {
        await c.query('insert into refunds (intent, charge) values ($1, $2) on conflict do nothing',
          [intent, o.id]);
      }
    }
    await c.query('commit');
    return 200;
  } catch (e) {
    await c.query('rollback');
    throw e;
  } finally {
    c.release();
  }
});
