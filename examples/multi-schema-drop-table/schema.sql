-- A small shop split over two schemas, with foreign keys across them.
CREATE SCHEMA sales;
CREATE SCHEMA inventory;

CREATE TABLE inventory.products (
    sku        text PRIMARY KEY,
    name       text NOT NULL,
    unit_price numeric(10, 2) NOT NULL
);
CREATE TABLE inventory.stock_moves (
    id       bigserial PRIMARY KEY,
    sku      text NOT NULL REFERENCES inventory.products (sku),
    quantity integer NOT NULL,
    moved_at timestamptz NOT NULL
);
CREATE TABLE sales.customers (
    id    serial PRIMARY KEY,
    email text NOT NULL UNIQUE
);
CREATE TABLE sales.invoices (
    id          bigserial PRIMARY KEY,
    customer_id integer NOT NULL REFERENCES sales.customers (id),
    sku         text NOT NULL REFERENCES inventory.products (sku),
    quantity    integer NOT NULL,
    issued_at   timestamptz NOT NULL
);

INSERT INTO inventory.products
SELECT 'SKU-' || i, 'Product ' || i, (5 + i % 95)::numeric(10, 2) FROM generate_series(1, 200) AS i;
INSERT INTO sales.customers (email) SELECT 'customer' || i || '@example.org' FROM generate_series(1, 500) AS i;
INSERT INTO sales.invoices (customer_id, sku, quantity, issued_at)
SELECT 1 + i % 500, 'SKU-' || (1 + i % 200), 1 + i % 7, timestamptz '2026-01-01 00:00:00+00' + i * interval '3 minutes'
FROM generate_series(1, 20000) AS i;
INSERT INTO inventory.stock_moves (sku, quantity, moved_at)
SELECT 'SKU-' || (1 + i % 200), -(1 + i % 7), timestamptz '2026-01-01 00:00:00+00' + i * interval '3 minutes'
FROM generate_series(1, 20000) AS i;
