"""The population base (人口信息数据库): persons keyed by checked citizen ID, households,
addresses in grid cells, masking by role and purpose, audited looks, safe aggregates."""
