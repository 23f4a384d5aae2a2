-- customer_latest: the latest row at or before :as_of_time, no older than max_age_days (the TTL).
-- :as_of_time is the end of the as_of day, or the exact instant when as_of is a timestamp (UTC).
WITH candidates AS (
    SELECT
        customer_id,
        orders_to_date,
        spend_to_date,
        updated_at,
        row_number() OVER (PARTITION BY customer_id ORDER BY updated_at DESC) AS latest
    FROM {{ table('customer_daily') }}
    WHERE customer_id IN :entity_ids
      -- dt is a local date: one day of slack on each side covers any UTC offset.
      AND dt BETWEEN date_format(date_add('day', -:max_age_days - 1, :as_of), '%Y-%m-%d')
                 AND date_format(date_add('day', 1, :as_of), '%Y-%m-%d')
      AND updated_at <= :as_of_time
      AND updated_at > date_add('day', -:max_age_days, :as_of_time)
)
SELECT
    customer_id,
    orders_to_date,
    spend_to_date,
    updated_at AS snapshot_time,
    date_diff('day', updated_at, :as_of_time) AS snapshot_age_days
FROM candidates
WHERE latest = 1
