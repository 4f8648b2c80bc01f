"""The public catalog as DCAT-AP (JSON-LD and Turtle), built with rdflib: one dcat:Catalog
published by the data bureau, a dcat:Dataset per open dataset (dct:identifier = resource
code, titles @zh and @en, description, publisher foaf:Organization, keywords, accrual
periodicity in the EU frequency vocabulary, a distribution per resource with its format in
the EU file-type vocabulary, the class as dcat:theme) and, on generated records, an
adms:versionNotes saying they are 示意/synthetic."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from rdflib import BNode, Graph, Literal, Namespace, URIRef
from rdflib.namespace import DCAT, DCTERMS, FOAF, RDF, SKOS, XSD

from backend.datasets.ckan import resources_of
from backend.datasets.codes import CLASSES
from backend.datasets.models import datasets
from backend.datasets.search import departments

ADMS = Namespace("http://www.w3.org/ns/adms#")
FREQ = Namespace("http://publications.europa.eu/resource/authority/frequency/")
FILE_TYPE = Namespace("http://publications.europa.eu/resource/authority/file-type/")
FREQUENCIES = {"realtime": "UPDATE_CONT", "daily": "DAILY", "weekly": "WEEKLY",
               "monthly": "MONTHLY", "quarterly": "QUARTERLY", "half_yearly": "ANNUAL_2",
               "yearly": "ANNUAL", "irregular": "IRREG"}
FILE_TYPES = {"JSON": "JSON", "CSV": "CSV", "GeoJSON": "GEOJSON", "MVT": "MVT", "PNG": "PNG"}
SYNTHETIC_NOTE = "示意：元数据由目录生成器生成 · synthetic: generated catalog metadata"


def _open_records(conn: sa.Connection) -> list[dict[str, Any]]:
    d = datasets.c
    rows = conn.execute(
        sa.select(d.id, d.resource_code, d.name, d.name_en, d.summary, d.keywords,
                  d.class_code, d.update_cycle, d.storage, d.geometry_type, d.layer_id,
                  d.published_on, d.last_updated_at, d.synthetic, d.department_code,
                  departments.c.name.label("department_name"),
                  departments.c.name_en.label("department_en"))
        .select_from(datasets.join(departments, departments.c.code == d.department_code))
        .where(d.open_type == "open").order_by(d.resource_code)).all()
    return [dict(r._mapping) for r in rows]


def catalog_graph(conn: sa.Connection, base: str) -> Graph:
    g = Graph()
    for prefix, ns in (("dcat", DCAT), ("dct", DCTERMS), ("foaf", FOAF), ("adms", ADMS),
                       ("skos", SKOS)):
        g.bind(prefix, ns)
    cat = URIRef(f"{base}/api/catalog/dcat")
    g.add((cat, RDF.type, DCAT.Catalog))
    g.add((cat, DCTERMS.title, Literal("泗县政务数据资源目录（公开部分）", lang="zh")))
    g.add((cat, DCTERMS.title, Literal("Sixian government data catalog (open part)",
                                       lang="en")))
    g.add((cat, DCTERMS.description, Literal(
        "县数据资源管理局编制的政务数据资源目录中可开放的数据资源（示意）", lang="zh")))
    scheme = URIRef(f"{base}/api/catalog/classes")
    g.add((scheme, RDF.type, SKOS.ConceptScheme))
    g.add((cat, DCAT.themeTaxonomy, scheme))
    for code, (zh, en) in CLASSES.items():
        concept = URIRef(f"{base}/api/catalog/classes/{code}")
        g.add((concept, RDF.type, SKOS.Concept))
        g.add((concept, SKOS.inScheme, scheme))
        g.add((concept, SKOS.notation, Literal(code)))
        g.add((concept, SKOS.prefLabel, Literal(zh, lang="zh")))
        g.add((concept, SKOS.prefLabel, Literal(en, lang="en")))
    orgs: dict[str, URIRef] = {}
    for rec in _open_records(conn):
        org = orgs.get(rec["department_code"])
        if org is None:
            org = orgs[rec["department_code"]] = URIRef(
                f"{base}/api/catalog/departments/{rec['department_code']}")
            g.add((org, RDF.type, FOAF.Organization))
            g.add((org, FOAF.name, Literal(rec["department_name"], lang="zh")))
            if rec["department_en"]:
                g.add((org, FOAF.name, Literal(rec["department_en"], lang="en")))
            if rec["department_code"] == "SJJ":
                g.add((cat, DCTERMS.publisher, org))
        ds = URIRef(f"{base}/api/datasets/{rec['id']}")
        g.add((cat, DCAT.dataset, ds))
        g.add((ds, RDF.type, DCAT.Dataset))
        g.add((ds, DCTERMS.identifier, Literal(rec["resource_code"])))
        g.add((ds, DCTERMS.title, Literal(rec["name"], lang="zh")))
        if rec["name_en"]:
            g.add((ds, DCTERMS.title, Literal(rec["name_en"], lang="en")))
        if rec["summary"]:
            g.add((ds, DCTERMS.description, Literal(rec["summary"], lang="zh")))
        g.add((ds, DCTERMS.publisher, org))
        for kw in rec["keywords"]:
            g.add((ds, DCAT.keyword, Literal(kw, lang="zh")))
        g.add((ds, DCTERMS.accrualPeriodicity, FREQ[FREQUENCIES[rec["update_cycle"]]]))
        if rec["class_code"]:
            g.add((ds, DCAT.theme, URIRef(f"{base}/api/catalog/classes/{rec['class_code']}")))
        if rec["published_on"]:
            g.add((ds, DCTERMS.issued, Literal(rec["published_on"], datatype=XSD.date)))
        if rec["last_updated_at"]:
            g.add((ds, DCTERMS.modified, Literal(rec["last_updated_at"],
                                                 datatype=XSD.dateTime)))
        if rec["synthetic"]:
            g.add((ds, ADMS.versionNotes, Literal(SYNTHETIC_NOTE)))
        for res in resources_of(rec, base):
            dist = BNode()
            g.add((ds, DCAT.distribution, dist))
            g.add((dist, RDF.type, DCAT.Distribution))
            g.add((dist, DCTERMS.title, Literal(res["name"])))
            g.add((dist, DCAT.accessURL, URIRef(res["url"])))
            g.add((dist, DCTERMS["format"], FILE_TYPE[FILE_TYPES[res["format"]]]))
            if res.get("mimetype"):
                g.add((dist, DCAT.mediaType, Literal(res["mimetype"])))
    return g
