-- examples/deliver/correct_schema.sql - the correct endpoint's tables: unique
-- keys for the upserts and the claimed event ids.
create table if not exists payments (
  id serial primary key,
  intent text not null,
  order_id text,
  status text not null
);
create table if not exists refunds (
  id serial primary key,
  intent text not null,
  charge text not null
);
create table if not exists processed_events (
  event_id text primary key,
  received_at timestamptz not null default now()
);
create unique index if not exists payments_intent on payments (intent);
create unique index if not exists refunds_charge on refunds (charge);
