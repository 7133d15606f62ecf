"""The quota schema, campaign definitions (workbook or YAML) and the locked unit templates."""
