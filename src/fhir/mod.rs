// TEMPORARY STUB
pub use serde_json::Value;
#[derive(Debug, Clone, PartialEq)]
pub struct Issue {
    pub path: String,
    pub message: String,
    pub issue_type: &'static str,
}
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("{0}")]
    Unparseable(String),
    #[error("invalid resource")]
    Invalid(Vec<Issue>),
}
pub fn read_json_lenient(b: &[u8]) -> Result<(Value, Vec<Issue>), ReadError> {
    serde_json::from_slice(b)
        .map(|v| (v, vec![]))
        .map_err(|e| ReadError::Unparseable(e.to_string()))
}
pub fn read_xml_lenient(_b: &[u8]) -> Result<(Value, Vec<Issue>), ReadError> {
    Err(ReadError::Unparseable("x".into()))
}
pub fn write_json(v: &Value) -> Vec<u8> {
    serde_json::to_vec(v).unwrap_or_default()
}
pub fn write_xml(_v: &Value) -> Vec<u8> {
    vec![]
}
pub fn read_json(b: &[u8]) -> Result<Value, ReadError> {
    read_json_lenient(b).map(|x| x.0)
}
pub fn read_xml(b: &[u8]) -> Result<Value, ReadError> {
    read_xml_lenient(b).map(|x| x.0)
}
