"""The SQL of :class:`~assets.identity.graph_store.DuckDBGraphStore`: how a run finds and numbers
the nodes it resolves and reads their attributes, in full or since the last watermark.

Templates name the identity and staging tables by the field names of
:class:`~assets.identity.store.Tables` in braces; the working sets are temp tables of the connection.
"""

from assets.identity.graph_lookups import KEY_CHECK_SQL, KEY_ID_SQL

# Full run: every record and event actor staging holds, numbered (the engine works on integers).
CURRENT_NODES_SQL = """
CREATE OR REPLACE TEMP TABLE identity_current AS
SELECT source, record_id, 'record' AS record_type, observed_at FROM {staged_records}
UNION ALL
SELECT source, record_id, record_type, min(observed_at) AS observed_at
FROM {staged_attributes} WHERE record_type = 'actor' AND is_valid GROUP BY ALL
"""
NUMBER_ALL_SQL = """
CREATE OR REPLACE TEMP TABLE identity_nodes AS
SELECT (row_number() OVER (ORDER BY source, record_type, record_id) - 1)::BIGINT AS node, *
FROM identity_current
"""
PREVIOUS_SQL = """
SELECT n.node, r.unified_id, r.id_created_at, r.first_linked_run
FROM {resolved} AS r
JOIN identity_nodes AS n USING (source, record_id, record_type)
WHERE r.unified_id IS NOT NULL
"""
# What was loaded up to now: the next incremental run links what arrives after it.
WATERMARK_SQL = """
SELECT max(loaded_at) FROM (
    SELECT max(loaded_at) AS loaded_at FROM {staged_records}
    UNION ALL SELECT max(loaded_at) FROM {staged_attributes} WHERE is_valid)
"""
# Incremental run: the records loaded since the last run, and the actors that gained an identifier
# since (every distinct attribute value keeps when it was first loaded), with their stored number.
# An actor's observed_at is the earliest of its attribute rows (load_changed reads them).
DELTA_SQL = """
CREATE OR REPLACE TEMP TABLE identity_delta AS
WITH changed AS (
    SELECT source, record_id, 'record' AS record_type FROM {staged_records} WHERE loaded_at > $watermark
    UNION
    SELECT source, record_id, record_type FROM {staged_attributes} WHERE is_valid AND loaded_at > $watermark
)
SELECT c.source, c.record_id, c.record_type, r.observed_at, p.node AS stored_node
FROM changed AS c
LEFT JOIN {staged_records} AS r
  ON c.record_type = 'record' AND r.source = c.source AND r.record_id = c.record_id
LEFT JOIN {nodes} AS p ON p.source = c.source AND p.record_id = c.record_id AND p.record_type = c.record_type
"""
# The changed nodes; old ones keep their number (stored), new ones continue the numbering.
# ``settled``: a stored actor with a person, whose old keys other than the node kinds stay with them.
NUMBER_CHANGED_SQL = """
CREATE OR REPLACE TEMP TABLE identity_nodes AS
SELECT coalesce(d.stored_node, (SELECT coalesce(max(node), -1) FROM {nodes})
                + row_number() OVER (PARTITION BY d.stored_node IS NULL
                                     ORDER BY d.source, d.record_type, d.record_id)
               )::BIGINT AS node,
       d.source, d.record_id, d.record_type, d.observed_at, d.stored_node IS NOT NULL AS stored,
       d.record_type = 'actor' AND r.unified_id IS NOT NULL AS settled, r.observed_at AS seen_before
FROM identity_delta AS d LEFT JOIN {resolved} AS r ON r.node = d.stored_node
"""
# Records staging holds that the stored graph does not know, nor links in this run (none, unless
# staging lost or regained records outside ingestion).
UNACCOUNTED_SQL = """
SELECT (SELECT count(*) FROM {staged_records})
     - (SELECT count(*) FROM {nodes} WHERE record_type = 'record')
     - (SELECT count(*) FROM identity_delta WHERE record_type = 'record' AND stored_node IS NULL)
"""
ATTRIBUTES_SQL = """
CREATE OR REPLACE TEMP TABLE identity_attributes AS
SELECT n.node, a.attribute_kind, a.namespace, a.value
FROM {staged_attributes} AS a JOIN identity_nodes AS n USING (source, record_id, record_type)
WHERE a.is_valid
"""
# The same for an increment, with each row's time: the rows loaded since the watermark, and the
# older rows of the changed nodes the graph already held — only those can have older rows, since
# a record's attributes load with the record, and an actor with a valid attribute is a node; a
# settled actor's older rows only of the node kinds ({node_kinds}). Apart, so that each side's
# filter runs before its join (one join over every staged row costs more).
CHANGED_ATTRIBUTES_SQL = """
SELECT n.node, a.attribute_kind, a.namespace, a.value, a.observed_at
FROM {staged_attributes} AS a JOIN identity_nodes AS n USING (source, record_id, record_type)
WHERE a.is_valid AND a.loaded_at > $watermark
UNION ALL
SELECT n.node, a.attribute_kind, a.namespace, a.value, a.observed_at
FROM {staged_attributes} AS a
JOIN (SELECT * FROM identity_nodes WHERE stored) AS n USING (source, record_id, record_type)
WHERE a.is_valid AND a.loaded_at <= $watermark AND (NOT n.settled OR a.attribute_kind IN ({node_kinds}))
"""
NODE_KEYS_SQL = f"""
SELECT k.node, n.source, n.record_id, n.record_type, k.attribute_kind, k.namespace, k.kind_ns, k.key,
       {KEY_ID_SQL} AS key_id, {KEY_CHECK_SQL} AS key_check
FROM _keys AS k JOIN identity_nodes AS n USING (node)
"""
