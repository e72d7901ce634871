-- examples/deliver/naive_schema.sql - the naive endpoint's tables: no
-- unique keys, so nothing stops a second row.
create table if not exists payments (
  id serial primary key, intent text not null, order_id text, status text not null);
create table if not exists refunds (
  id serial primary key, intent text not null, charge text not null);
