{#- A consent decision as partners spell it (a toggle's true/false, an SMS "TD" reply, 退订,
    "unsubscribe", 同意…) read as granted or withdrawn; anything else is null, so unreadable
    decisions stay countable and never count as a grant. -#}
{% macro consent_decision(value) -%}
    case
        when lower(trim({{ value }})) in ('granted', 'grant', 'yes', 'y', 'true', '1', 'opt_in', 'optin', 'opt-in',
                                          'subscribe', 'subscribed', 'agree', 'agreed', 'accept', '同意', '是', '订阅')
            then 'granted'
        when lower(trim({{ value }})) in ('withdrawn', 'withdraw', 'revoked', 'revoke', 'no', 'n', 'false', '0',
                                          'opt_out', 'optout', 'opt-out', 'unsubscribe', 'unsubscribed', 'td',
                                          'stop', 'refuse', 'refused', '退订', '拒绝', '否', '取消')
            then 'withdrawn'
    end
{%- endmacro %}
