-- customer_orders: orders in [as_of - lookback_days, as_of]; amounts as exact DECIMAL (same cents every run), window()
-- keeps that window's partitions in any layout, try_cast drops a malformed order_date instead of failing the query.
WITH windowed AS (
    SELECT customer_id, try_cast(order_date AS DATE) AS order_day, category, CAST(amount AS DECIMAL(12, 2)) AS amount, refunded
    FROM {{ table('orders') }}
    WHERE customer_id IN :entity_ids
      AND {{ window('orders', 'lookback_days') }}
      AND try_cast(order_date AS DATE) BETWEEN date_add('day', -:lookback_days, :as_of) AND :as_of
),
ranked_categories AS (
    -- Ties broken alphabetically, so the answer is the same on every engine and every run.
    SELECT customer_id, category,
           row_number() OVER (PARTITION BY customer_id ORDER BY count(*) DESC, category ASC) AS rank
    FROM windowed
    GROUP BY customer_id, category
)
SELECT
    w.customer_id,
    count(*) AS order_count,
    round(sum(w.amount), 2) AS total_spend,
    round(avg(w.amount), 2) AS avg_order,
    max(w.order_day) AS last_order,
    round(CAST(count_if(w.refunded) AS DOUBLE) / count(*), 3) AS refund_rate,  -- avg(1.0/0.0) is DECIMAL(2,1) on Athena
    max(c.category) AS top_category,
    date_diff('day', max(w.order_day), :as_of) AS days_since_last_order
FROM windowed AS w
LEFT JOIN ranked_categories AS c ON c.customer_id = w.customer_id AND c.rank = 1
GROUP BY w.customer_id
