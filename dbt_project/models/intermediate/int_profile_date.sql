-- The as-of date of every profile: var('as_of'), else the last day with any order or event.
{% set as_of = var('as_of', none) %}
select
    {% if as_of %}cast('{{ as_of }}' as date){% else %}greatest(
        (select max(order_date) from {{ ref('fct_orders') }}),
        (select max(event_date) from {{ ref('fct_events') }})
    ){% endif %} as as_of
