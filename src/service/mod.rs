//! The use cases: register, cancel, read, history, search. Each takes parsed input and who is
//! asking, sequences the rules (`registry`) and the storage (`store`), and returns a domain
//! result. `http` only negotiates, calls one of these, and answers; nothing here knows HTTP.

pub mod cancel;
pub mod read;
pub mod register;
pub mod resource;
pub mod search;
pub mod validate;
