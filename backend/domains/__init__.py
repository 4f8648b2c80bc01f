"""The eight key domains' views ("一图清"): layers, KPI cards and charts declared per domain in
scenarios/sixian/domains/<id>.yaml, computed in SQL over the domain's datasets, pushed on the
hub's domains.kpis channel when their data changes."""
