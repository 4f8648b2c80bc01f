"""Data quality: rule kinds, rules as data per dataset, the one-pass runner, the blocking gate
of new versions, scores and the tasks failing checks become."""
