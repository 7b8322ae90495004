//! The registry's rules (RULES.md §1–§4) as pure functions over parsed resources.

pub mod cancel;
pub mod identifier;
pub mod instant;
pub mod nhs_number;
pub mod patient;
pub mod problems;
pub mod register;
pub mod search;
pub mod search_date;
