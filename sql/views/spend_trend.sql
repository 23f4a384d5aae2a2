-- spend_trend: two adjacent windows of window_days each, compared with conditional aggregation (exact DECIMAL sums).
WITH windows AS (  -- try_cast: a malformed order_date falls outside both windows instead of failing the query
    SELECT
        customer_id,
        sum(CASE WHEN try_cast(order_date AS DATE) > date_add('day', -:window_days, :as_of)
                 THEN CAST(amount AS DECIMAL(12, 2)) ELSE 0 END) AS recent,
        sum(CASE WHEN try_cast(order_date AS DATE) <= date_add('day', -:window_days, :as_of)
                 THEN CAST(amount AS DECIMAL(12, 2)) ELSE 0 END) AS prior
    FROM {{ table('orders') }}
    WHERE customer_id IN :entity_ids
      AND {{ window('orders', 'window_days', 2) }}
      AND try_cast(order_date AS DATE) > date_add('day', -2 * :window_days, :as_of)
      AND try_cast(order_date AS DATE) <= :as_of
    GROUP BY customer_id
)
SELECT
    customer_id,
    round(recent, 2) AS recent_spend,
    round(prior, 2) AS prior_spend,
    round(recent - prior, 2) AS spend_change,
    CASE
        WHEN prior = 0 THEN 'new'
        WHEN recent > prior * 1.1 THEN 'up'
        WHEN recent < prior * 0.9 THEN 'down'
        ELSE 'flat'
    END AS trend
FROM windows
