//! Types of the generated structure table (`structure_gen.rs`) and lookups over it.

use std::sync::LazyLock;

pub use super::structure_gen::{ALL_RESOURCES, SUPPORTED_RESOURCES, TYPES};

/// FHIR primitive types; the JSON shape follows from the kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prim {
    Boolean,
    Integer,
    UnsignedInt,
    PositiveInt,
    Decimal,
    String,
    Code,
    Id,
    Uri,
    Oid,
    Uuid,
    Markdown,
    Base64Binary,
    Date,
    DateTime,
    Instant,
    Time,
}

/// How a primitive is represented in JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonShape {
    Bool,
    Number,
    String,
}

impl Prim {
    pub fn json_shape(self) -> JsonShape {
        match self {
            Prim::Boolean => JsonShape::Bool,
            Prim::Integer | Prim::UnsignedInt | Prim::PositiveInt | Prim::Decimal => {
                JsonShape::Number
            }
            _ => JsonShape::String,
        }
    }
}

/// What an element (or one alternative of a choice element) holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Primitive(Prim),
    /// A complex datatype or backbone element, named as in [`TYPES`].
    Complex(&'static str),
    /// Any resource (ResourceContainer); the type comes from the data.
    Resource,
    /// Narrative.div: XHTML held as a string in JSON, inline in XML.
    Xhtml,
}

/// One allowed type of an element, with its JSON member / XML element name.
#[derive(Debug)]
pub struct Choice {
    pub name: &'static str,
    pub kind: Kind,
    /// Codes of a required binding (empty when unbound).
    pub codes: &'static [&'static str],
}

#[derive(Debug)]
pub struct ElementDef {
    /// Base name: "status", or "value" for `value[x]`.
    pub name: &'static str,
    pub min: u32,
    /// max is unbounded (JSON array) rather than 1.
    pub many: bool,
    /// Carried as an XML attribute (Element.id, Extension.url).
    pub attr: bool,
    pub choices: &'static [Choice],
}

#[derive(Debug)]
pub struct TypeDef {
    pub name: &'static str,
    /// Flattened through the base types, in XSD order.
    pub elements: &'static [ElementDef],
}

impl ElementDef {
    /// Name for paths and messages: `value[x]` for choices.
    pub fn display_name(&self) -> String {
        if self.choices.len() > 1 {
            format!("{}[x]", self.name)
        } else {
            self.name.to_string()
        }
    }
}

impl TypeDef {
    /// Finds the element and alternative for a JSON member / XML element name.
    pub fn find(&self, member: &str) -> Option<(usize, &'static ElementDef, &'static Choice)> {
        self.elements.iter().enumerate().find_map(|(i, e)| {
            e.choices
                .iter()
                .find(|c| c.name == member)
                .map(|c| (i, e, c))
        })
    }
}

/// Looks up a datatype, backbone element or supported resource by name.
pub fn type_def(name: &str) -> Option<&'static TypeDef> {
    TYPES
        .binary_search_by(|t| t.name.cmp(name))
        .ok()
        .and_then(|i| TYPES.get(i))
}

/// The definition of a resource type this module supports.
pub fn resource_def(name: &str) -> Option<&'static TypeDef> {
    if SUPPORTED_RESOURCES.contains(&name) {
        type_def(name)
    } else {
        None
    }
}

/// The codes a required binding allows for `member` of `type_name` (STU3 AppointmentStatus for
/// `("Appointment", "status")`); empty when the element has no such binding.
pub fn codes(type_name: &str, member: &str) -> &'static [&'static str] {
    type_def(type_name)
        .and_then(|t| t.find(member))
        .map_or(&[], |(_, _, choice)| choice.codes)
}

/// A type of [`TYPES`] with its member names sorted, for the validator and the JSON writer: they
/// place each member of an object (a `Map` iterates its keys in byte order) with one binary
/// search, instead of one map lookup per member name of the table (an Appointment has 28, most
/// of them absent) and a scan of the table for each key.
#[derive(Debug)]
pub struct Indexed {
    pub def: &'static TypeDef,
    /// One of [`SUPPORTED_RESOURCES`] (as [`resource_def`] finds it).
    pub is_resource: bool,
    /// Every JSON member name of the type, by [`prefix`] and then in byte order.
    members: Vec<Member>,
}

/// One JSON member name of a type: the element and alternative it names.
#[derive(Debug)]
pub struct Member {
    pub name: &'static str,
    /// [`prefix`] of the name.
    prefix: u64,
    /// Index of the element in [`TypeDef::elements`].
    pub element: usize,
    pub def: &'static ElementDef,
    pub choice: &'static Choice,
    /// Place in table order (elements, then their alternatives): members are written, and
    /// their issues reported, in this order.
    pub rank: usize,
    /// For a complex kind, its type's index in [`TYPES`] (None when the table lacks it).
    complex: Option<usize>,
}

static INDEXED: LazyLock<Vec<Indexed>> = LazyLock::new(|| {
    TYPES
        .iter()
        .map(|def| {
            let mut members = Vec::new();
            for (element, el) in def.elements.iter().enumerate() {
                for choice in el.choices {
                    let complex = match choice.kind {
                        Kind::Complex(t) => type_index(t),
                        _ => None,
                    };
                    members.push(Member {
                        name: choice.name,
                        prefix: prefix(choice.name),
                        element,
                        def: el,
                        choice,
                        rank: members.len(),
                        complex,
                    });
                }
            }
            members.sort_by(|a, b| (a.prefix, a.name).cmp(&(b.prefix, b.name)));
            Indexed {
                def,
                is_resource: SUPPORTED_RESOURCES.contains(&def.name),
                members,
            }
        })
        .collect()
});

/// The first eight bytes of a name as a big-endian integer (zero-padded): a search compares
/// these first, so each step compares two integers instead of calling memcmp.
fn prefix(name: &str) -> u64 {
    let mut key = 0u64;
    for (i, &b) in name.as_bytes().iter().take(8).enumerate() {
        key |= u64::from(b) << (56 - 8 * i);
    }
    key
}

fn type_index(name: &str) -> Option<usize> {
    TYPES.binary_search_by(|t| t.name.cmp(name)).ok()
}

impl Indexed {
    /// The member named `name` (as [`TypeDef::find`] finds it: names are unique in a type).
    pub fn member(&'static self, name: &str) -> Option<&'static Member> {
        let key = prefix(name);
        self.members
            .binary_search_by(|m| m.prefix.cmp(&key).then_with(|| m.name.cmp(name)))
            .ok()
            .map(|i| &self.members[i])
    }
}

impl Member {
    /// The type of a complex member, as [`type_def`] finds it by name.
    pub fn complex(&self) -> Option<&'static Indexed> {
        self.complex.map(|i| &INDEXED[i])
    }
}

/// [`type_def`] with its member index.
pub fn indexed(name: &str) -> Option<&'static Indexed> {
    type_index(name).map(|i| &INDEXED[i])
}

/// [`resource_def`] with its member index.
pub fn indexed_resource(name: &str) -> Option<&'static Indexed> {
    indexed(name).filter(|t| t.is_resource)
}

pub fn is_known_resource(name: &str) -> bool {
    ALL_RESOURCES.contains(&name)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The index finds what the table's own lookups find, for every name of every type.
    #[test]
    fn index_agrees_with_the_table() {
        for def in TYPES {
            let ix = indexed(def.name).expect("every type is indexed");
            assert!(std::ptr::eq(ix.def, def));
            assert_eq!(ix.is_resource, resource_def(def.name).is_some());
            let mut rank = 0;
            for (i, el) in def.elements.iter().enumerate() {
                for c in el.choices {
                    let (fi, fe, fc) = def.find(c.name).expect("found");
                    let m = ix.member(c.name).expect("indexed");
                    assert_eq!((m.element, m.rank), (fi, rank), "{}.{}", def.name, c.name);
                    assert_eq!(i, fi, "{}.{} is named twice", def.name, c.name);
                    assert!(std::ptr::eq(m.def, fe) && std::ptr::eq(m.choice, fc));
                    let by_name = match c.kind {
                        Kind::Complex(t) => type_def(t),
                        _ => None,
                    };
                    assert_eq!(m.complex().map(|t| t.def.name), by_name.map(|t| t.name));
                    rank += 1;
                }
            }
            for c in def.elements.iter().flat_map(|e| e.choices) {
                for near in [format!("{}x", c.name), format!("_{}", c.name)] {
                    assert_eq!(
                        ix.member(&near).is_some(),
                        def.find(&near).is_some(),
                        "{near}"
                    );
                }
                let short = &c.name[..c.name.len() - 1];
                assert_eq!(
                    ix.member(short).is_some(),
                    def.find(short).is_some(),
                    "{short}"
                );
            }
            for name in ["", "resourceType", "_id", "zzz", "Id", "\0", "identifie\0"] {
                assert!(ix.member(name).is_none() || def.find(name).is_some());
            }
        }
    }
}
