select * from {{ source('raw', 'products') }}
