// tests/stripe_node/test.js - the official stripe-node client, unchanged,
// against `faultline stripe`. Usage: node test.js plain|faults PORT KEY.
// plain: customers (create, retrieve, update, list with paging, search,
// delete), payment intents (create, confirm), events, errors, idempotency.
// faults: the client's own retries under the fault rules of faults.yaml
// must leave exactly one customer and one payment intent.
'use strict';
const assert = require('node:assert/strict');
const Stripe = require('stripe');

const [mode, port, key] = process.argv.slice(2);
const opts = {host: '127.0.0.1', port: Number(port), protocol: 'http',
              maxNetworkRetries: 0, telemetry: false};

async function rejects(promise, check) {
  try {
    await promise;
  } catch (e) {
    check(e);
    return;
  }
  assert.fail('the call succeeded; an error was expected');
}

async function plain() {
  const stripe = new Stripe(key, opts);
  const a = await stripe.customers.create({email: 'ana@example.org', metadata: {user_id: 'u1'}},
                                          {idempotencyKey: 'cust-u1'});
  assert.match(a.id, /^cus_/);
  assert.equal(a.object, 'customer');
  assert.equal(a.livemode, false);
  const again = await stripe.customers.create({email: 'ana@example.org', metadata: {user_id: 'u1'}},
                                              {idempotencyKey: 'cust-u1'});
  assert.equal(again.id, a.id);
  assert.equal(again.lastResponse.headers['idempotent-replayed'], 'true');
  await rejects(stripe.customers.create({email: 'bo@example.org'}, {idempotencyKey: 'cust-u1'}),
                (e) => { assert.equal(e.type, 'StripeIdempotencyError'); assert.equal(e.statusCode, 400); });

  const got = await stripe.customers.retrieve(a.id);
  assert.equal(got.email, 'ana@example.org');
  assert.equal(got.metadata.user_id, 'u1');
  const upd = await stripe.customers.update(a.id, {name: 'Ana', metadata: {plan: 'pro'}});
  assert.equal(upd.name, 'Ana');
  assert.deepEqual(upd.metadata, {user_id: 'u1', plan: 'pro'});
  assert.equal((await stripe.customers.retrieve(a.id)).metadata.plan, 'pro');

  const b = await stripe.customers.create({email: 'bo@example.org'});
  const c = await stripe.customers.create({email: 'cy@example.org'});
  const page = await stripe.customers.list({limit: 2});
  assert.equal(page.object, 'list');
  assert.deepEqual(page.data.map((x) => x.id), [c.id, b.id]);
  assert.equal(page.has_more, true);
  const all = await stripe.customers.list({limit: 1}).autoPagingToArray({limit: 10});
  assert.deepEqual(all.map((x) => x.id), [c.id, b.id, a.id]);
  const found = await stripe.customers.search({query: "email:'bo@example.org'"});
  assert.deepEqual(found.data.map((x) => x.id), [b.id]);
  const bymeta = await stripe.customers.search({query: "metadata['user_id']:'u1'"});
  assert.deepEqual(bymeta.data.map((x) => x.id), [a.id]);

  const del = await stripe.customers.del(b.id);
  assert.equal(del.deleted, true);
  assert.equal((await stripe.customers.retrieve(b.id)).deleted, true);
  assert.equal((await stripe.customers.list({limit: 10})).data.length, 2);

  const pi = await stripe.paymentIntents.create({amount: 2000, currency: 'usd', customer: a.id,
                                                 metadata: {order: 'o-1'}});
  assert.match(pi.id, /^pi_/);
  assert.equal(pi.status, 'requires_payment_method');
  const done = await stripe.paymentIntents.confirm(pi.id, {payment_method: 'pm_card_visa'});
  assert.equal(done.status, 'succeeded');
  assert.equal(done.amount_received, 2000);
  assert.equal((await stripe.paymentIntents.retrieve(pi.id)).status, 'succeeded');
  const evs = await stripe.events.list({type: 'payment_intent.succeeded'});
  assert.equal(evs.data.length, 1);
  assert.equal(evs.data[0].data.object.id, pi.id);
  const ev = await stripe.events.retrieve(evs.data[0].id);
  assert.equal(ev.type, 'payment_intent.succeeded');
  const created = await stripe.events.list({type: 'payment_intent.created'});
  assert.equal(created.data[0].data.object.id, pi.id);

  await rejects(stripe.customers.retrieve('cus_nothere'), (e) => {
    assert.equal(e.type, 'StripeInvalidRequestError');
    assert.equal(e.statusCode, 404);
    assert.equal(e.code, 'resource_missing');
  });
  await rejects(stripe.paymentIntents.create({currency: 'usd'}), (e) => {
    assert.equal(e.code, 'parameter_missing');
    assert.equal(e.param, 'amount');
  });
  await rejects(stripe.paymentIntents.create({amount: 'ten', currency: 'usd'}), (e) => {
    assert.equal(e.code, 'parameter_invalid_integer');
  });
  await rejects(stripe.paymentIntents.confirm(pi.id, {payment_method: 'pm_card_visa'}), (e) => {
    assert.equal(e.code, 'payment_intent_unexpected_state');
  });
  const bad = new Stripe('sk_test_wrong', opts);
  await rejects(bad.customers.list(), (e) => {
    assert.equal(e.type, 'StripeAuthenticationError');
    assert.equal(e.statusCode, 401);
  });
}

async function faults() {
  // The client retries a timeout and a 500 on its own, with the
  // Idempotency-Key it generated for the first attempt; a 429 reaches the
  // caller as a rate-limit error.
  const stripe = new Stripe(key, {...opts, maxNetworkRetries: 3, timeout: 700});
  const a = await stripe.customers.create({email: 'dee@example.org', metadata: {user_id: 'u9'}});
  assert.equal(a.lastResponse.headers['idempotent-replayed'], 'true',
               'the retry after the timeout replays the applied create');
  const list = await stripe.customers.list({limit: 10});
  assert.equal(list.data.length, 1, 'one customer despite the retry');
  await rejects(stripe.customers.retrieve(a.id), (e) => {
    assert.equal(e.type, 'StripeRateLimitError');
    assert.equal(e.statusCode, 429);
    assert.equal(e.code, 'rate_limit');
  });
  assert.equal((await stripe.customers.retrieve(a.id)).id, a.id);
  const pi = await stripe.paymentIntents.create({amount: 500, currency: 'eur', customer: a.id});
  assert.equal((await stripe.paymentIntents.list({limit: 10})).data.length, 1);
  const done = await stripe.paymentIntents.confirm(pi.id, {payment_method: 'pm_card_visa'});
  assert.equal(done.status, 'succeeded');
}

(mode === 'faults' ? faults() : plain()).then(
  () => { console.log(`stripe-node ${Stripe.PACKAGE_VERSION || ''} ${mode}: ok`); },
  (e) => { console.error(`stripe-node ${mode}: ${e.stack || e}`); process.exit(1); });
