select * from {{ source('raw', 'campaigns') }}
