{#- Generic data tests written here because dbt hub packages cannot be installed offline. -#}

{% test unique_combination(model, columns) %}
select {{ columns | join(', ') }}, count(*) as n
from {{ model }}
group by {{ columns | join(', ') }}
having count(*) > 1
{% endtest %}

{#- Every normalised mobile is 11 digits starting 1[3-9]. -#}
{% test valid_mobile(model, column_name, kind_column) %}
select *
from {{ model }}
where {{ kind_column }} = 'mobile'
  and {{ column_name }} is not null
  and not {{ regex_full_match(column_name, "'1[3-9][0-9]{9}'") }}
{% endtest %}
