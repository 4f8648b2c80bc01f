"""Privacy by design: the masking policy and the audited full views of personal data."""
