"""From snapshots to tables, charts, trends and report folders."""
