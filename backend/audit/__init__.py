"""The tamper-evident audit log.

- chain.py: every write appends a row hash-chained to the one before (in the database, by
  `cityops_audit_append`; the app role may not touch the table otherwise); `verify` walks it.
- actor.py: the row names the authenticated caller bound by the auth dependency (or
  "cli:<os user>" for a command), never a name code passes along.
- anchors.py / anchoring.py: the chain's head, signed with a key the database never sees, is
  appended to var/audit/anchors.jsonl at intervals and at shutdown, so that deleting the newest
  rows or re-chaining after an edit is caught. commands.py: `cityops audit verify | anchor`.

Production: put CITYOPS_AUDIT_ANCHOR_KEY_FILE and CITYOPS_AUDIT_ANCHOR_FILE on storage the
database's administrators cannot write (not the database host), ship the anchors off the host
too (CITYOPS_AUDIT_ANCHOR_SYSLOG, or a backup of the file), and run `cityops audit verify` on a
schedule with the same two settings. A database restored from an older backup legitimately
contradicts newer anchors: move the anchors file aside (keep it) before anchoring anew.
"""
