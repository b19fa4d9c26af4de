select * from {{ source('raw', 'kols') }}
