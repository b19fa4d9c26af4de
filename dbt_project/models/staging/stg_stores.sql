select * from {{ source('raw', 'stores') }}
