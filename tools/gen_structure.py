#!/usr/bin/env python3
"""Generate src/fhir/structure_gen.rs from the official FHIR STU3 XSD.

Usage (from the crate root):
    python3 tools/gen_structure.py [path/to/fhir-single.xsd] > src/fhir/structure_gen.rs

Default XSD path: tests/fixtures/schema/fhir-single.xsd
Only the standard library is used (xml.etree).
"""
import sys
import xml.etree.ElementTree as ET

XS = "{http://www.w3.org/2001/XMLSchema}"
ROOTS = ["Appointment", "OperationOutcome", "Bundle", "CapabilityStatement", "SearchParameter", "Parameters"]
# Primitive kinds named after the FHIR type; Rust enum variants in structure.rs.
PRIMS = {
    "boolean": "Boolean", "integer": "Integer", "unsignedInt": "UnsignedInt",
    "positiveInt": "PositiveInt", "decimal": "Decimal", "string": "String",
    "code": "Code", "id": "Id", "uri": "Uri", "oid": "Oid", "uuid": "Uuid",
    "markdown": "Markdown", "base64Binary": "Base64Binary", "date": "Date",
    "dateTime": "DateTime", "instant": "Instant", "time": "Time",
}

path = sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/schema/fhir-single.xsd"
schema = ET.parse(path).getroot()
complex_types = {c.get("name"): c for c in schema.findall(XS + "complexType")}
simple_types = {s.get("name"): s for s in schema.findall(XS + "simpleType")}


def enum_codes(simple_name):
    """Codes of a '-list' simpleType, following unions of other lists."""
    st = simple_types.get(simple_name)
    if st is None:
        return []
    codes = [e.get("value") for e in st.iter(XS + "enumeration")]
    for u in st.iter(XS + "union"):
        for m in (u.get("memberTypes") or "").split():
            codes += enum_codes(m)
    return codes


def ext_of(ct):
    """(base, extension-node) of a complexType's complexContent, or (None, ct)."""
    cc = ct.find(XS + "complexContent")
    if cc is None:
        return None, ct
    node = cc.find(XS + "extension")
    if node is None:
        node = cc.find(XS + "restriction")
    return node.get("base"), node


def classify(type_name):
    """-> (kind, prim-or-type, codes) for an element's XSD type."""
    if type_name == "ResourceContainer":
        return ("Resource", None, [])
    ct = complex_types[type_name]
    base, node = ext_of(ct)
    if base == "Element" and node.find(XS + "sequence") is None:
        for a in node.findall(XS + "attribute"):
            if a.get("name") == "value":
                vt = a.get("type")
                if vt.endswith("-primitive"):
                    # Special-purpose primitives (SampledDataDataType) are FHIR strings.
                    return ("Primitive", PRIMS.get(vt[: -len("-primitive")], "String"), [])
                if vt.endswith("-list"):
                    return ("Primitive", "Code", enum_codes(vt))
    return ("Complex", type_name, [])


def cap(s):
    return s[0].upper() + s[1:]


def flatten(type_name):
    """Attributes then sequence elements, base types first (XSD order)."""
    ct = complex_types[type_name]
    base, node = ext_of(ct)
    attrs, elems = ([], []) if base is None else flatten(base)
    attrs = list(attrs)
    elems = list(elems)
    for a in node.findall(XS + "attribute"):
        if a.get("name") in ("id", "url"):
            prim = "Uri" if a.get("name") == "url" else "String"
            req = 1 if a.get("use") == "required" else 0
            attrs.append(dict(name=a.get("name"), min=req, many=False, attr=True,
                              choices=[(a.get("name"), ("Primitive", prim, []))]))
    seq = node.find(XS + "sequence")
    if seq is not None:
        for child in seq:
            if child.tag == XS + "element":
                elems.append(element_def(child))
            elif child.tag == XS + "choice":
                elems.append(choice_def(child))
    return attrs, elems


def occurs(node, default_min="1"):
    mn = int(node.get("minOccurs", default_min))
    mx = node.get("maxOccurs", "1")
    return mn, mx == "unbounded"


def element_def(el):
    mn, many = occurs(el)
    if el.get("ref") == "xhtml:div":
        return dict(name="div", min=mn, many=many, attr=False, choices=[("div", ("Xhtml", None, []))])
    name = el.get("name")
    return dict(name=name, min=mn, many=many, attr=False, choices=[(name, classify(el.get("type")))])


def choice_def(ch):
    mn, many = occurs(ch)
    choices = []
    base = None
    for el in ch.findall(XS + "element"):
        n, t = el.get("name"), el.get("type")
        suffix = cap(t)
        assert n.endswith(suffix), (n, t)
        b = n[: -len(suffix)]
        assert base in (None, b), (base, b)
        base = b
        choices.append((n, classify(t)))
    return dict(name=base, min=mn, many=many, attr=False, choices=choices)


# Walk everything reachable from the roots (datatypes via Extension.value[x]).
# "Element" is included so primitive "_name" siblings (id + extension) have a type.
order, seen, todo = [], set(), list(ROOTS) + ["Element"]
flat = {}
while todo:
    t = todo.pop(0)
    if t in seen:
        continue
    seen.add(t)
    order.append(t)
    attrs, elems = flatten(t)
    flat[t] = attrs + elems
    for e in flat[t]:
        for _, (kind, ref, _) in e["choices"]:
            if kind == "Complex" and ref not in seen:
                todo.append(ref)

all_resources = [e.get("ref") for e in complex_types["ResourceContainer"].iter(XS + "element")]


def rs_str(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def kind_rs(kind, ref):
    if kind == "Primitive":
        return "Kind::Primitive(Prim::%s)" % ref
    if kind == "Complex":
        return "Kind::Complex(%s)" % rs_str(ref)
    return "Kind::%s" % kind


out = []
w = out.append
w("// @generated by tools/gen_structure.py from the official FHIR STU3 XSD (fhir-single.xsd).")
w("// Do not edit by hand. Regenerate with:")
w("//     python3 tools/gen_structure.py tests/fixtures/schema/fhir-single.xsd \\")
w("//         > src/fhir/structure_gen.rs && cargo fmt")
w("")
w("use super::structure::{Choice, ElementDef, Kind, Prim, TypeDef};")
w("")
w("/// Resource types this module can read, validate and write.")
w("pub static SUPPORTED_RESOURCES: &[&str] = &[%s];" % ", ".join(rs_str(r) for r in ROOTS))
w("")
w("/// Every STU3 resource type (members of ResourceContainer).")
w("pub static ALL_RESOURCES: &[&str] = &[%s];" % ", ".join(rs_str(r) for r in all_resources))
w("")
w("/// Type definitions, sorted by name for binary search; elements in XSD order.")
w("pub static TYPES: &[TypeDef] = &[")
for t in sorted(order):
    w("    TypeDef {")
    w("        name: %s," % rs_str(t))
    w("        elements: &[")
    for e in flat[t]:
        choices = ", ".join(
            "Choice { name: %s, kind: %s, codes: &[%s] }"
            % (rs_str(n), kind_rs(k, r), ", ".join(rs_str(c) for c in codes))
            for n, (k, r, codes) in e["choices"]
        )
        w("            ElementDef { name: %s, min: %d, many: %s, attr: %s, choices: &[%s] },"
          % (rs_str(e["name"]), e["min"], str(e["many"]).lower(), str(e["attr"]).lower(), choices))
    w("        ],")
    w("    },")
w("];")
print("\n".join(out))
