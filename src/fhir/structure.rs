//! Types of the generated structure table (`structure_gen.rs`) and lookups over it.

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

pub fn is_known_resource(name: &str) -> bool {
    ALL_RESOURCES.contains(&name)
}
